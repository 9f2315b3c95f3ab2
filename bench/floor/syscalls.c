// What a system call costs on this machine, and what batching recv/send calls in io_uring saves (the reason for the
// epoll engine's IoUringBatch, docs/ARCHITECTURE.md). Run on one core: taskset -c 1 ./syscalls
//   1. a loop of getppid (entry and exit only), and of recv(MSG_DONTWAIT) on an empty TCP socket (EAGAIN), in a
//      single-threaded process and with a second (idle) thread (a multi-threaded process takes a file reference on
//      each call, as .NET processes always are);
//   2. 16 loopback TCP pairs, 200 bytes sent and received on each pair per round: one send and one recv system call
//      each, against the same calls as MSG_DONTWAIT SQEs, one io_uring_enter for the 16 sends and one for the 16 recvs.
// Build: gcc -O2 -o syscalls bench/floor/syscalls.c -luring -lpthread   (liburing-dev)
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <liburing.h>

#define PAIRS 16
#define CALLS 2000000
#define ROUNDS 6250

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void *idle(void *arg) { (void)arg; pause(); return NULL; }

static int listener(struct sockaddr_in *a) {
    socklen_t len = sizeof *a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    a->sin_family = AF_INET; a->sin_addr.s_addr = htonl(0x7f000001); a->sin_port = 0;
    bind(l, (void *)a, sizeof *a); listen(l, 64); getsockname(l, (void *)a, &len);
    return l;
}

static void calls(const char *label) {
    struct sockaddr_in a; int l = listener(&a), s = socket(AF_INET, SOCK_STREAM, 0);
    connect(s, (void *)&a, sizeof a); int c = accept(l, NULL, NULL); char buf[1024];
    double t0 = now(); for (int i = 0; i < CALLS; i++) syscall(SYS_getppid);
    double t1 = now(); for (int i = 0; i < CALLS; i++) recv(c, buf, sizeof buf, MSG_DONTWAIT);
    double t2 = now();
    printf("%-16s getppid %4.0f ns   recv EAGAIN %4.0f ns\n", label, (t1 - t0) / CALLS * 1e9, (t2 - t1) / CALLS * 1e9);
    close(s); close(c); close(l);
}

int main(void) {
    calls("single-threaded");
    pthread_t t; pthread_create(&t, NULL, idle, NULL);
    calls("two threads");

    struct sockaddr_in a; int l = listener(&a), one = 1, out[PAIRS], in[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        out[i] = socket(AF_INET, SOCK_STREAM, 0); connect(out[i], (void *)&a, sizeof a); in[i] = accept(l, NULL, NULL);
        setsockopt(out[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    char msg[200], buf[PAIRS][1024]; memset(msg, 'x', sizeof msg);
    struct io_uring ring; io_uring_queue_init(256, &ring, 0);
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (int r = 0; r < ROUNDS; r++) {
            for (int i = 0; i < PAIRS; i++) send(out[i], msg, sizeof msg, MSG_DONTWAIT | MSG_NOSIGNAL);
            for (int i = 0; i < PAIRS; i++) recv(in[i], buf[i], sizeof buf[i], MSG_DONTWAIT);
        }
        double t1 = now();
        for (int r = 0; r < ROUNDS; r++) {
            for (int k = 0; k < 2; k++) {
                for (int i = 0; i < PAIRS; i++) {
                    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
                    if (k == 0) io_uring_prep_send(s, out[i], msg, sizeof msg, MSG_DONTWAIT | MSG_NOSIGNAL);
                    else io_uring_prep_recv(s, in[i], buf[i], sizeof buf[i], MSG_DONTWAIT);
                }
                io_uring_submit(&ring);
                struct io_uring_cqe *cqe; unsigned head, n = 0;
                io_uring_for_each_cqe(&ring, head, cqe) { if (cqe->res <= 0) fprintf(stderr, "res %d\n", cqe->res); n++; }
                io_uring_cq_advance(&ring, n);
            }
        }
        double t2 = now();
        int total = ROUNDS * PAIRS;
        printf("send + recv of 200 bytes: one system call each %5.0f ns, in io_uring batches of %d %5.0f ns\n",
               (t1 - t0) / total * 1e9, PAIRS, (t2 - t1) / total * 1e9);
    }
    return 0;
}
