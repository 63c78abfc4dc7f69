# Sourced by the proxy benchmarks and ci/sidecar-smoke.sh: the upstream, the bundle and the
# mesh-proxy command line they share (Benchmarks/proxy/mesh.yaml routes 127.0.0.1:15004 to
# the nginx on 127.0.0.1:18080). Each takes the caller's scratch directory.

# nginx answering 200 "ok" on 127.0.0.1:18080, in the background (pid in $1/nginx.pid).
bench_nginx() {
  cat > "$1/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 10000000; client_body_temp_path $1; client_max_body_size 8m;
       server { listen 127.0.0.1:18080; location / { return 200 "ok"; } } }
NGINX
  nginx -c "$1/nginx.conf" &
}

# A signing key in $1/keys and the benchmark mesh compiled into $1/out, with meshc $2.
bench_bundle() {
  "$2" keygen --out "$1/keys" >/dev/null
  "$2" compile Benchmarks/proxy/mesh.yaml --key "$1/keys/signing.key" --out "$1/out" >/dev/null
}

# mesh-proxy's arguments for that bundle, into the array bench_proxy_args.
bench_proxy_args() {
  bench_proxy_args=(--workload bench/client --trust "$1/keys/trust.json" --state-dir "$1/state"
    --bundle "$1/out/bench/client.json" --parts "$1/out/_parts"
    --outbound 127.0.0.1:15004 --inbound 127.0.0.1:15016 --app 127.0.0.1:18080 --admin 127.0.0.1:15010)
}

# Stops what bench_nginx started and removes $1 (for a trap on EXIT).
bench_cleanup() {
  [[ -f $1/nginx.pid ]] && kill "$(cat "$1/nginx.pid")" 2>/dev/null
  rm -rf "$1"
}
