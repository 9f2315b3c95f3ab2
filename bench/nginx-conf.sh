# Sourced by the bench scripts: the nginx.conf of a private single-worker nginx (the backend that answers
# `return 200 "hello world\n"`, 12 bytes, or nginx as a proxy in bench/e2e.sh), written into a temp dir.

# write_nginx_conf DIR MAIN-DIRECTIVES HTTP-BLOCK-BODY: DIR/nginx.conf, logs in DIR/logs, temp files in DIR/tmp.
write_nginx_conf() {
  mkdir -p "$1/logs" "$1/tmp"
  cat >"$1/nginx.conf" <<EOF_NGINX
worker_processes 1;
$2
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  client_body_temp_path $1/tmp/body; proxy_temp_path $1/tmp/proxy; fastcgi_temp_path $1/tmp/fastcgi;
  uwsgi_temp_path $1/tmp/uwsgi; scgi_temp_path $1/tmp/scgi;
$3
}
EOF_NGINX
}

# write_nginx_backend DIR PORT: the 12-byte "hello world" backend on 127.0.0.1:PORT.
write_nginx_backend() {
  write_nginx_conf "$1" "" "  server {
    listen 127.0.0.1:$2 reuseport backlog=4096;
    location / { default_type text/plain; return 200 \"hello world\\n\"; }
  }"
}
