// The kernel floor for bench/floor/run.sh: a 1:1 TCP relay on 127.0.0.1. Each client connection gets its own upstream
// connection and bytes are passed on unparsed, so a request costs the system calls, TCP and wake-ups a proxy cannot
// avoid, and nothing else. For small request/response traffic only (a send that would block is retried at once).
//   mode epoll: level-triggered epoll, one recv and one send per message (as HAProxy and Turnpike).
//   mode uring: io_uring, a recv per socket; on completion a linked send + recv; one io_uring_enter per turn.
// Usage: relay epoll|uring LISTEN_PORT UPSTREAM_PORT
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <liburing.h>
#define MAXC 4096
#define BUF 16384
static int up_port;
struct conn { int c, u; char a[BUF], b[BUF]; };
static struct conn *conns[MAXC];
static int connect_up(void){
  int s=socket(AF_INET,SOCK_STREAM,0); int one=1; setsockopt(s,IPPROTO_TCP,TCP_NODELAY,&one,4);
  struct sockaddr_in a={.sin_family=AF_INET,.sin_port=htons(up_port)}; a.sin_addr.s_addr=htonl(0x7f000001);
  if(connect(s,(void*)&a,sizeof a)){perror("connect");exit(1);} return s;
}
static int listen_on(int port){
  int s=socket(AF_INET,SOCK_STREAM,0); int one=1; setsockopt(s,SOL_SOCKET,SO_REUSEADDR,&one,4);
  struct sockaddr_in a={.sin_family=AF_INET,.sin_port=htons(port)}; a.sin_addr.s_addr=htonl(0x7f000001);
  if(bind(s,(void*)&a,sizeof a)||listen(s,4096)){perror("listen");exit(1);} return s;
}
static void sendall(int fd,char*p,int n){ while(n>0){int k=send(fd,p,n,MSG_NOSIGNAL); if(k<0){ if(errno==EAGAIN) continue; return;} p+=k;n-=k;} }
static void run_epoll(int ls){
  int ep=epoll_create1(0); struct epoll_event ev={.events=EPOLLIN,.data.u64=~0ull}; epoll_ctl(ep,EPOLL_CTL_ADD,ls,&ev);
  struct epoll_event evs[256];
  for(;;){ int n=epoll_wait(ep,evs,256,-1);
    for(int i=0;i<n;i++){ unsigned long long d=evs[i].data.u64;
      if(d==~0ull){ int c=accept4(ls,0,0,SOCK_NONBLOCK); if(c<0) continue; int one=1; setsockopt(c,IPPROTO_TCP,TCP_NODELAY,&one,4);
        int k=0; while(conns[k]) k++; struct conn*x=calloc(1,sizeof *x); x->c=c; x->u=connect_up(); fcntl(x->u,F_SETFL,O_NONBLOCK); conns[k]=x;
        ev.events=EPOLLIN; ev.data.u64=(unsigned long long)k<<1; epoll_ctl(ep,EPOLL_CTL_ADD,c,&ev); ev.data.u64=((unsigned long long)k<<1)|1; epoll_ctl(ep,EPOLL_CTL_ADD,x->u,&ev); continue; }
      struct conn*x=conns[d>>1]; if(!x) continue; int up=d&1;
      int from=up?x->u:x->c, to=up?x->c:x->u; char*buf=up?x->b:x->a;
      int r=recv(from,buf,BUF,0);
      if(r<=0){ if(r<0&&errno==EAGAIN) continue; close(x->c); close(x->u); conns[d>>1]=0; free(x); continue; }
      sendall(to,buf,r);
    } }
}
static struct io_uring ring;
enum { K_CRECV=0, K_URECV=1, K_ACCEPT=3 };
static void arm_recv(struct conn*x,int k,int up){ struct io_uring_sqe*s=io_uring_get_sqe(&ring); io_uring_prep_recv(s,up?x->u:x->c,up?x->b:x->a,BUF,0); io_uring_sqe_set_data64(s,((unsigned long long)k<<2)|(up?K_URECV:K_CRECV)); }
static void arm_accept(int ls){ struct io_uring_sqe*s=io_uring_get_sqe(&ring); io_uring_prep_accept(s,ls,0,0,0); io_uring_sqe_set_data64(s,K_ACCEPT); }
static void run_uring(int ls){
  struct io_uring_params p; memset(&p,0,sizeof p); p.flags=IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN|IORING_SETUP_COOP_TASKRUN;
  int e=io_uring_queue_init_params(4096,&ring,&p); if(e){ fprintf(stderr,"init %d\n",e); exit(1);} 
  arm_accept(ls);
  for(;;){ io_uring_submit_and_wait(&ring,1); struct io_uring_cqe*cqe; unsigned head; int seen=0;
    io_uring_for_each_cqe(&ring,head,cqe){ seen++; unsigned long long d=cqe->user_data; int res=cqe->res; int kind=d&3; int k=d>>2;
      if(kind==K_ACCEPT){ arm_accept(ls); if(res<0) continue; int c=res; int one=1; setsockopt(c,IPPROTO_TCP,TCP_NODELAY,&one,4);
        int j=0; while(conns[j]) j++; struct conn*x=calloc(1,sizeof *x); x->c=c; x->u=connect_up(); conns[j]=x; arm_recv(x,j,0); arm_recv(x,j,1); continue; }
      if(kind==2) continue; // a failed send
      struct conn*x=conns[k]; if(!x) continue; int up=kind==K_URECV;
      if(res<=0){ if(res==-EAGAIN||res==-EINTR){ arm_recv(x,k,up); continue;} shutdown(x->c,SHUT_RDWR); shutdown(x->u,SHUT_RDWR); if(up) {close(x->c); close(x->u); conns[k]=0; free(x);} continue; }
      struct io_uring_sqe*s=io_uring_get_sqe(&ring); io_uring_prep_send(s,up?x->c:x->u,up?x->b:x->a,res,MSG_NOSIGNAL); s->flags|=IOSQE_IO_LINK|IOSQE_CQE_SKIP_SUCCESS; io_uring_sqe_set_data64(s,2);
      arm_recv(x,k,up);
    }
    io_uring_cq_advance(&ring,seen);
  }
}
int main(int argc,char**argv){ if(argc<4){fprintf(stderr,"relay epoll|uring listen_port up_port\n");return 2;} up_port=atoi(argv[3]); int ls=listen_on(atoi(argv[2]));
  if(!strcmp(argv[1],"epoll")) run_epoll(ls); else run_uring(ls); }
