#!/usr/bin/env bash
# Real Redis + real S3 (Ceph RADOS Gateway) for karton-ts integration tests.
#
# Usage:
#   scripts/services.sh start [DIR]   start Redis and a one-node Ceph cluster with an S3 gateway,
#                                     state/logs in DIR (default: <repo>/.services), write DIR/env.sh
#   scripts/services.sh stop [DIR]    stop what `start` started (by pidfiles), drop the data; idempotent
#   scripts/services.sh status [DIR]  show what is running and where
#   scripts/services.sh env [DIR]     print DIR/env.sh (use: eval "$(scripts/services.sh env)")
#   scripts/services.sh run -- CMD... run CMD against the services (see below), exit with CMD's code
#   scripts/services.sh --help
#
# `run`: if KARTON_TEST_REDIS_HOST and KARTON_TEST_S3_ADDRESS are already set, CMD runs against those
# existing servers and nothing is started. Otherwise fresh services are started in a temporary
# directory, CMD runs with their env.sh exported, and the services are always stopped afterwards
# (also on failure, Ctrl-C or SIGTERM). `npm test` is `scripts/services.sh run -- npm run test:all`.
#
# Environment contract (what env.sh exports and test/helpers/services.ts reads):
#   KARTON_TEST_REDIS_HOST      Redis host (127.0.0.1)
#   KARTON_TEST_REDIS_PORT      Redis port
#   KARTON_TEST_S3_ADDRESS      S3 endpoint, http://127.0.0.1:PORT (path-style addressing)
#   KARTON_TEST_S3_ACCESS_KEY   S3 access key
#   KARTON_TEST_S3_SECRET_KEY   S3 secret key
#   KARTON_TEST_SERVICES_DIR    state directory of the services (logs in DIR/log)
#   KARTON_TEST_REDIS_SERVER    path of the redis-server binary (fault tests start extra instances)
# To use servers of your own instead, export the first five (the last two are optional) and run
# `npm test` or any test command; the S3 user needs the right to create and delete buckets.
#
# Needs (Debian package names): redis-server radosgw ceph-mon ceph-osd. When they are missing and we
# are root on Debian, `start` installs them with apt-get; otherwise it explains what to do.
set -euo pipefail

readonly REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly DEFAULT_DIR="$REPO_ROOT/.services"
readonly PACKAGES=(redis-server radosgw ceph-mon ceph-osd)
# Commands used by `start`; all come with the packages above.
readonly REQUIRED_COMMANDS=(redis-server redis-cli radosgw radosgw-admin ceph-mon ceph-osd monmaptool ceph)
readonly RGW_POOLS=(.rgw.root default.rgw.control default.rgw.meta default.rgw.log
  default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec)
readonly RGW_NAME=client.rgw.gw
readonly S3_USER=karton-test
# Upper bound for each wait; start-up normally takes a few seconds.
readonly WAIT_SECONDS=${KARTON_SERVICES_WAIT_SECONDS:-30}

# Microseconds since the epoch (EPOCHREALTIME may use ',' as decimal point in some locales).
now_us() { local t=${EPOCHREALTIME//[.,]/}; echo "$t"; }
T0=$(now_us)

# One progress line per step, with seconds elapsed since the script started, on stderr so that
# stdout of `env`/`status` stays clean.
step() {
  local us=$(($(now_us) - T0))
  printf '[services %3d.%01ds] %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$*" >&2
}

die() {
  printf 'services.sh: %s\n' "$*" >&2
  exit 1
}

# die, showing the end of a daemon's log first (the log usually says why it did not come up).
die_with_log() {
  local log=$1
  shift
  if [[ -s $log ]]; then
    printf -- '---- last lines of %s ----\n' "$log" >&2
    tail -n 40 "$log" >&2 || true
    printf -- '---- end of %s ----\n' "$log" >&2
  fi
  die "$*"
}

usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

# Absolute path of a state dir (ceph.conf needs absolute paths).
state_dir() {
  local dir=${1:-$DEFAULT_DIR}
  mkdir -p "$dir"
  (cd "$dir" && pwd)
}

# ---------------------------------------------------------------------------------------------
# Installation

missing_commands() {
  local c missing=()
  for c in "${REQUIRED_COMMANDS[@]}"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  echo "${missing[*]}"
}

explain_missing() {
  cat >&2 <<EOF
services.sh: missing commands: $1
Integration tests need a real Redis and a real S3 server. Either:
  - install them (Debian/Ubuntu, as root):
      apt-get update && apt-get install -y --no-install-recommends ${PACKAGES[*]}
    and run \`npm test\` again; or
  - point the tests at servers you already have, then run \`npm test\`:
      export KARTON_TEST_REDIS_HOST=127.0.0.1 KARTON_TEST_REDIS_PORT=6379
      export KARTON_TEST_S3_ADDRESS=http://127.0.0.1:9000
      export KARTON_TEST_S3_ACCESS_KEY=... KARTON_TEST_S3_SECRET_KEY=...
    (tests use Redis dbs 1-15 and create/delete their own buckets)
EOF
}

# CI starts on a machine without the daemons: install them when we are allowed to.
ensure_packages() {
  local missing
  missing=$(missing_commands)
  [[ -z $missing ]] && return 0
  if [[ $(id -u) -ne 0 || ! -r /etc/debian_version ]] || ! command -v apt-get >/dev/null 2>&1; then
    explain_missing "$missing"
    exit 1
  fi
  step "installing ${PACKAGES[*]} with apt-get (missing: $missing)"
  # Package scripts would try to start a system-wide redis-server on port 6379 through
  # invoke-rc.d; a policy-rc.d that denies everything keeps them from starting anything.
  local policy=/usr/sbin/policy-rc.d added_policy=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
  fi
  local rc=0 apt_log
  apt_log=$(mktemp)
  {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
        --no-install-recommends "${PACKAGES[@]}"
  } >"$apt_log" 2>&1 </dev/null || rc=$?
  [[ -n $added_policy ]] && rm -f "$policy"
  if [[ $rc -ne 0 ]]; then
    die_with_log "$apt_log" "apt-get failed (exit $rc)"
  fi
  rm -f "$apt_log"
  missing=$(missing_commands)
  [[ -z $missing ]] || die "still missing after apt-get install: $missing"
  step "installed"
}

# ---------------------------------------------------------------------------------------------
# Ports and secrets

# Print N distinct ports that 127.0.0.1 can bind right now. They are drawn at random below the
# kernel's ephemeral range (32768+), so outgoing connections never take them, and random so that
# several test runs on one machine do not collide.
pick_free_ports() {
  N=$1 node -e '
    const net = require("node:net");
    const want = Number(process.env.N);
    const canBind = (port) => new Promise((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
    });
    (async () => {
      const ports = new Set();
      for (let i = 0; i < 500 && ports.size < want; i++) {
        const port = 20000 + Math.floor(Math.random() * 12000);
        if (!ports.has(port) && (await canBind(port))) ports.add(port);
      }
      if (ports.size < want) { console.error("no free ports found"); process.exit(1); }
      console.log([...ports].join(" "));
    })();'
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# ---------------------------------------------------------------------------------------------
# Process helpers

# Is PID alive and does its command line contain MARK? Guards against pid reuse after a crash.
pid_matches() {
  local pid=$1 mark=$2
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(cmdline_of "$pid") == *"$mark"* ]]
}

# Command line of PID, arguments joined by spaces; empty if it is gone.
cmdline_of() {
  local args=()
  { mapfile -d '' -t args <"/proc/$1/cmdline"; } 2>/dev/null || return 0
  local IFS=' '
  echo "${args[*]}"
}

# Pids of live processes whose command line contains MARK (our ceph.conf path is unique per state
# dir, so this finds ceph daemons or tools of this dir even if a pidfile was never written).
pids_with_mark() {
  local mark=$1 dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    [[ $(cmdline_of "$pid") == *"$mark"* ]] && echo "$pid"
  done
  return 0
}

# Is PID running? A zombie counts as gone: daemons are reparented to PID 1, which may reap late.
alive() {
  local stat
  # `read`, not $(<file): no subshell, and a vanished process just makes it return 1.
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) } # the state follows the command name, which may contain spaces
  [[ ${stat%% *} != Z ]]
}

# Send SIGNAL to PIDS, wait up to SECONDS for them to exit, then SIGKILL what is left.
kill_and_wait() {
  local signal=$1 seconds=$2 pid deadline killed=""
  shift 2
  (($# == 0)) && return 0
  kill "-$signal" "$@" 2>/dev/null || true
  deadline=$((SECONDS + seconds))
  for pid in "$@"; do
    while alive "$pid"; do
      if ((SECONDS >= deadline)); then
        if [[ -n $killed ]]; then
          step "WARNING: pid $pid does not exit"
          break
        fi
        kill -KILL "$@" 2>/dev/null || true
        killed=1
        deadline=$((SECONDS + 5))
      fi
      sleep 0.02
    done
  done
}

# What the command line of a ceph daemon or tool of DIR contains (every one gets -c DIR/ceph.conf).
ceph_mark() { echo "-c $1/ceph.conf"; }

# redis-server replaces its command line by "redis-server 127.0.0.1:PORT"; the port is recorded.
redis_mark() { echo "redis-server 127.0.0.1:$(cat "$1/run/redis.port" 2>/dev/null || echo none)"; }

# Wait until file $1 exists and is not empty (daemons write their pidfile after forking).
wait_for_file() {
  local file=$1 log=$2 what=$3 deadline=$((SECONDS + WAIT_SECONDS))
  until [[ -s $file ]]; do
    ((SECONDS < deadline)) || die_with_log "$log" "$what did not write $file"
    sleep 0.02
  done
}

# ---------------------------------------------------------------------------------------------
# Redis

start_redis() {
  local dir=$1 port=$2
  step "starting redis-server on 127.0.0.1:$port"
  echo "$port" >"$dir/run/redis.port"
  # No persistence: tests flush their dbs anyway, and writes to disk would only slow them down.
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
    --dir "$dir/redis" --pidfile "$dir/run/redis.pid" --logfile "$dir/log/redis.log" \
    </dev/null >>"$dir/log/redis.log" 2>&1 || die_with_log "$dir/log/redis.log" "redis-server failed"
  local deadline=$((SECONDS + WAIT_SECONDS))
  until [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; do
    ((SECONDS < deadline)) || die_with_log "$dir/log/redis.log" "redis does not answer PING"
    sleep 0.02
  done
  wait_for_file "$dir/run/redis.pid" "$dir/log/redis.log" redis-server
  step "redis answers PING"
}

# ---------------------------------------------------------------------------------------------
# Ceph: one monitor, one memstore OSD, one RADOS Gateway

write_ceph_conf() {
  local dir=$1 fsid=$2 mon_port=$3 rgw_port=$4
  cat >"$dir/ceph.conf" <<EOF
# Generated by scripts/services.sh: a throw-away one-node cluster for tests.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
# cephx off inside the cluster (S3 requests are still SigV4-checked by the gateway). Daemons
# insist on an encrypted ("secure") link to the monitor by default, which needs cephx: allow crc.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
keyring = /dev/null
# A single OSD holds every object once.
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd crush update on start = false
# The monitor would stop itself if the disk got nearly full; it only stores a few MB.
mon data avail crit = 0
# Fail within seconds instead of the default 5 minutes if the monitor is unreachable.
client mount timeout = 20
# Everything of this cluster lives in the state dir, so several clusters never collide.
run dir = $dir/run
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
# Admin sockets are not needed, and their path could exceed the unix socket limit in deep dirs.
admin socket =

[mon]
mon data = $dir/mon
# Without these every map change (pool creation...) waits ~1-2 s.
paxos propose interval = 0.01
paxos min wait = 0.001

[osd]
osd data = $dir/osd/\$id
# RAM-only object store: fastest start, nothing to clean on disk. The size is only a cap.
osd objectstore = memstore
memstore device bytes = 8589934592

[$RGW_NAME]
# tcp_nodelay: without it every small GET/LIST response waits ~45 ms (Nagle + delayed ACK).
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
EOF
}

# The `ceph` CLI costs a Python start-up (~0.2 s) per call; fed several commands on stdin it runs
# them in one session. Its exit code does not reflect failed commands, so look for "Error".
ceph_batch() {
  local dir=$1 log=$2 out
  out=$(timeout "$WAIT_SECONDS" ceph -c "$dir/ceph.conf" 2>&1) || {
    printf '%s\n' "$out" >>"$log"
    die_with_log "$log" "ceph CLI failed"
  }
  printf '%s\n' "$out" >>"$log"
  if grep -qi 'error' <<<"$out"; then
    die_with_log "$log" "a ceph command failed"
  fi
}

start_mon() {
  local dir=$1 fsid=$2 mon_port=$3 log="$dir/log/setup.log"
  step "creating and starting ceph-mon on 127.0.0.1:$mon_port"
  monmaptool -c "$dir/ceph.conf" --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" \
    "$dir/monmap" >>"$log" 2>&1 || die_with_log "$log" "monmaptool failed"
  ceph-mon -c "$dir/ceph.conf" -i a --mkfs --monmap "$dir/monmap" </dev/null >>"$log" 2>&1 ||
    die_with_log "$log" "ceph-mon --mkfs failed"
  ceph-mon -c "$dir/ceph.conf" -i a </dev/null >>"$log" 2>&1 ||
    die_with_log "$dir/log/mon.a.log" "ceph-mon failed to start"
  wait_for_file "$dir/run/mon.a.pid" "$dir/log/mon.a.log" ceph-mon
}

# Register osd.0 in the CRUSH map and create the gateway's pools before the OSD is even up: pools
# made up front keep the first bucket operation from stalling on pool creation.
configure_cluster() {
  local dir=$1 pool commands
  step "registering osd.0 and creating ${#RGW_POOLS[@]} RGW pools"
  commands=$'osd create\nosd crush add-bucket host0 host\nosd crush move host0 root=default\n'
  commands+=$'osd crush add osd.0 1.0 host=host0\n'
  for pool in "${RGW_POOLS[@]}"; do
    commands+="osd pool create $pool 8 8"$'\n'"osd pool application enable $pool rgw"$'\n'
  done
  ceph_batch "$dir" "$dir/log/setup.log" <<<"$commands"
}

start_osd() {
  local dir=$1 log="$dir/log/setup.log"
  step "starting ceph-osd (memstore)"
  mkdir -p "$dir/osd/0"
  ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs </dev/null >>"$log" 2>&1 ||
    die_with_log "$dir/log/osd.0.log" "ceph-osd --mkfs failed"
  ceph-osd -c "$dir/ceph.conf" -i 0 </dev/null >>"$log" 2>&1 ||
    die_with_log "$dir/log/osd.0.log" "ceph-osd failed to start"
  wait_for_file "$dir/run/osd.0.pid" "$dir/log/osd.0.log" ceph-osd
  local deadline=$((SECONDS + WAIT_SECONDS)) stat
  while :; do
    stat=$(timeout 10 ceph -c "$dir/ceph.conf" osd stat -f json 2>>"$log" || true)
    [[ $stat == *'"num_up_osds":1'* ]] && break
    pid_matches "$(cat "$dir/run/osd.0.pid" 2>/dev/null)" "$(ceph_mark "$dir")" ||
      die_with_log "$dir/log/osd.0.log" "ceph-osd exited"
    ((SECONDS < deadline)) || die_with_log "$dir/log/osd.0.log" "osd.0 did not come up"
    sleep 0.05
  done
  step "osd.0 is up"
}

create_s3_user() {
  local dir=$1 access_key=$2 secret_key=$3 log="$dir/log/setup.log"
  step "creating S3 user $S3_USER"
  timeout "$WAIT_SECONDS" radosgw-admin -c "$dir/ceph.conf" user create --uid="$S3_USER" \
    --display-name="karton-ts tests" --access-key="$access_key" --secret-key="$secret_key" \
    </dev/null >>"$log" 2>&1 || die_with_log "$log" "radosgw-admin user create failed"
}

start_rgw() {
  local dir=$1 rgw_port=$2
  step "starting radosgw on 127.0.0.1:$rgw_port"
  radosgw -c "$dir/ceph.conf" -n "$RGW_NAME" </dev/null >>"$dir/log/setup.log" 2>&1 ||
    die_with_log "$dir/log/$RGW_NAME.log" "radosgw failed to start"
  wait_for_file "$dir/run/$RGW_NAME.pid" "$dir/log/$RGW_NAME.log" radosgw
}

# Wait until the gateway answers HTTP, then check that a SigV4-signed request (bucket create and
# delete) works with the generated keys and the client settings the tests use.
wait_s3_ready() {
  local dir=$1 address=$2 access_key=$3 secret_key=$4 out
  out=$(cd "$REPO_ROOT" && S3_ADDRESS=$address S3_ACCESS_KEY=$access_key S3_SECRET_KEY=$secret_key \
    S3_WAIT_MS=$((WAIT_SECONDS * 1000)) RGW_PID=$(cat "$dir/run/$RGW_NAME.pid") \
    node --no-warnings --input-type=module -e '
    import { readFileSync } from "node:fs";
    const { S3_ADDRESS: endpoint, S3_ACCESS_KEY: accessKeyId, S3_SECRET_KEY: secretAccessKey } = process.env;
    const deadline = Date.now() + Number(process.env.S3_WAIT_MS);
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const rgwAlive = () => {
      try { return !/\) Z /.test(readFileSync(`/proc/${process.env.RGW_PID}/stat`, "utf8")); } catch { return false; }
    };
    let last;
    for (;;) {
      try { await fetch(endpoint); break; } catch (e) { last = e; }
      if (!rgwAlive()) { console.log("radosgw exited"); process.exit(1); }
      if (Date.now() > deadline) { console.log(`no HTTP answer from ${endpoint}: ${last?.cause ?? last}`); process.exit(1); }
      await sleep(20);
    }
    console.log("http");
    let sdk;
    try { sdk = await import("@aws-sdk/client-s3"); } catch {
      console.log("nosdk"); process.exit(0);
    }
    const s3 = new sdk.S3Client({
      endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED",
    });
    const bucket = `services-probe-${process.pid}`;
    for (;;) {
      try {
        await s3.send(new sdk.CreateBucketCommand({ Bucket: bucket }));
        await s3.send(new sdk.DeleteBucketCommand({ Bucket: bucket }));
        console.log("signed"); process.exit(0);
      } catch (e) { last = e; }
      if (Date.now() > deadline) { console.log(`signed request failed: ${last?.name}: ${last?.message}`); process.exit(1); }
      await sleep(50);
    }' 2>&1) || die_with_log "$dir/log/$RGW_NAME.log" "S3 gateway not ready: ${out##*$'\n'}"
  step "S3 gateway answers HTTP"
  if [[ $out == *nosdk* ]]; then
    step "WARNING: @aws-sdk/client-s3 not installed (run npm ci): signed request not checked"
  else
    step "signed S3 request (create/delete bucket) works"
  fi
}

# ---------------------------------------------------------------------------------------------
# Subcommands

write_env() {
  local dir=$1 redis_port=$2 address=$3 access_key=$4 secret_key=$5
  cat >"$dir/env.sh.tmp" <<EOF
export KARTON_TEST_REDIS_HOST=127.0.0.1
export KARTON_TEST_REDIS_PORT=$redis_port
export KARTON_TEST_S3_ADDRESS=$address
export KARTON_TEST_S3_ACCESS_KEY=$access_key
export KARTON_TEST_S3_SECRET_KEY=$secret_key
export KARTON_TEST_SERVICES_DIR=$dir
export KARTON_TEST_REDIS_SERVER=$(command -v redis-server)
EOF
  # Rename so that a reader never sees half a file.
  mv "$dir/env.sh.tmp" "$dir/env.sh"
}

cmd_start() {
  local dir
  dir=$(state_dir "${1:-}")
  step "state dir $dir"
  ensure_packages
  # Leftovers of an earlier run in this dir (crashed script, forgotten `stop`) go first.
  stop_services "$dir" quiet
  rm -rf "${dir:?}"/{log,run,mon,osd,redis,monmap,ceph.conf,env.sh}
  mkdir -p "$dir/log" "$dir/run" "$dir/mon" "$dir/osd" "$dir/redis"

  local ports redis_port mon_port rgw_port
  ports=$(pick_free_ports 3) || die "could not find free ports"
  read -r redis_port mon_port rgw_port <<<"$ports"
  local fsid access_key secret_key address="http://127.0.0.1:$rgw_port"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  access_key="KARTON$(random_hex 7 | tr a-f A-F)"
  secret_key=$(random_hex 20)

  start_redis "$dir" "$redis_port"
  write_ceph_conf "$dir" "$fsid" "$mon_port" "$rgw_port"
  start_mon "$dir" "$fsid" "$mon_port"
  configure_cluster "$dir"
  start_osd "$dir"
  create_s3_user "$dir" "$access_key" "$secret_key"
  start_rgw "$dir" "$rgw_port"
  wait_s3_ready "$dir" "$address" "$access_key" "$secret_key"
  write_env "$dir" "$redis_port" "$address" "$access_key" "$secret_key"
  step "ready: redis 127.0.0.1:$redis_port, S3 $address (env: $dir/env.sh)"
}

# Stop the daemons of DIR. Ceph daemons get SIGKILL: their data is thrown away anyway, and a
# clean shutdown takes ~2 s each (the memstore OSD would even dump all objects to disk first).
stop_services() {
  local dir=$1 quiet=${2:-} mark pids=() pid name
  mark=$(ceph_mark "$dir")
  for name in "$RGW_NAME" osd.0 mon.a; do
    pid=$(cat "$dir/run/$name.pid" 2>/dev/null || true)
    pid_matches "$pid" "$mark" && pids+=("$pid")
  done
  # Also any process of this cluster that never wrote its pidfile (e.g. start was interrupted).
  for pid in $(pids_with_mark "$mark"); do
    [[ " ${pids[*]} " == *" $pid "* ]] || pids+=("$pid")
  done
  if ((${#pids[@]})); then
    [[ -n $quiet ]] || step "stopping ceph daemons (pids ${pids[*]})"
    kill_and_wait KILL 5 "${pids[@]}"
  fi
  pid=$(cat "$dir/run/redis.pid" 2>/dev/null || true)
  if pid_matches "$pid" "$(redis_mark "$dir")"; then
    [[ -n $quiet ]] || step "stopping redis-server (pid $pid)"
    kill_and_wait TERM 5 "$pid"
  fi
  rm -rf "${dir:?}"/{run,mon,osd,redis,monmap,env.sh}
}

cmd_stop() {
  local dir=${1:-$DEFAULT_DIR}
  if [[ ! -d $dir ]]; then
    step "nothing to stop in $dir"
    return 0
  fi
  dir=$(state_dir "$dir")
  stop_services "$dir"
  step "stopped (logs kept in $dir/log)"
}

cmd_status() {
  local dir=${1:-$DEFAULT_DIR} name pid running=0 total=0
  if [[ ! -d $dir ]]; then
    echo "not started (no $dir)"
    return 3
  fi
  dir=$(state_dir "$dir")
  for name in redis "$RGW_NAME" osd.0 mon.a; do
    total=$((total + 1))
    pid=$(cat "$dir/run/$name.pid" 2>/dev/null || true)
    local mark
    mark=$(ceph_mark "$dir")
    [[ $name == redis ]] && mark=$(redis_mark "$dir")
    if pid_matches "$pid" "$mark"; then
      running=$((running + 1))
      printf '%-14s running (pid %s)\n' "$name" "$pid"
    else
      printf '%-14s not running\n' "$name"
    fi
  done
  if [[ -f $dir/env.sh ]]; then
    echo "env ($dir/env.sh):"
    sed 's/^/  /' "$dir/env.sh"
  fi
  ((running == total)) && return 0
  ((running == 0)) && return 3
  return 1
}

cmd_env() {
  local dir=${1:-$DEFAULT_DIR}
  [[ -f $dir/env.sh ]] || die "no $dir/env.sh: run \`scripts/services.sh start${1:+ $1}\` first"
  cat "$dir/env.sh"
}

cmd_run() {
  [[ ${1:-} == -- ]] && shift
  (($#)) || die "usage: scripts/services.sh run -- CMD..."
  if [[ -n ${KARTON_TEST_REDIS_HOST:-} && -n ${KARTON_TEST_S3_ADDRESS:-} ]]; then
    step "using existing services: redis $KARTON_TEST_REDIS_HOST:${KARTON_TEST_REDIS_PORT:-?}, S3 $KARTON_TEST_S3_ADDRESS"
    exec "$@"
  fi
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/karton-services.XXXXXX")
  RUN_PID=$BASHPID
  RUN_CHILD=""
  RUN_RC=1
  trap run_cleanup EXIT
  trap 'run_signal INT 130' INT
  trap 'run_signal TERM 143' TERM
  cmd_start "$RUN_DIR"
  # shellcheck source=/dev/null
  source "$RUN_DIR/env.sh"
  step "running: $*"
  # CMD runs in the background so that a SIGTERM to this script is handled at once (bash defers
  # traps while a foreground command runs). Bash makes background commands ignore SIGINT, so
  # `env --default-signal` restores it: Ctrl-C must still reach the tests. stdin is kept.
  if env --default-signal=INT true 2>/dev/null; then
    env --default-signal=INT,QUIT "$@" <&0 &
  else
    "$@" <&0 &
  fi
  RUN_CHILD=$!
  RUN_RC=0
  wait "$RUN_CHILD" || RUN_RC=$?
  RUN_CHILD=""
  exit "$RUN_RC"
}

# On SIGTERM, pass it on to CMD. A SIGINT usually comes from Ctrl-C, which the terminal already
# sent to CMD too: give CMD time to wind down before insisting. Then exit; the EXIT trap stops
# the services.
run_signal() {
  local signal=$1 code=$2 grace=0
  trap - INT TERM
  if [[ -n ${RUN_CHILD:-} ]]; then
    [[ $signal == TERM ]] && kill -TERM "$RUN_CHILD" 2>/dev/null || true
    while alive "$RUN_CHILD"; do
      if ((grace++ == 500)); then # 10 s
        step "command still running after SIG$signal: sending SIGTERM"
        kill -TERM "$RUN_CHILD" 2>/dev/null || true
      elif ((grace == 1000)); then
        kill -KILL "$RUN_CHILD" 2>/dev/null || true
      fi
      sleep 0.02
    done
    wait "$RUN_CHILD" 2>/dev/null || true
  fi
  RUN_RC=$code
  exit "$code"
}

run_cleanup() {
  local rc=$?
  # Subshells may inherit this trap in some bash versions: only the script itself cleans up.
  [[ $BASHPID == "$RUN_PID" ]] || exit "$rc"
  ((rc == 0)) && rc=${RUN_RC:-0}
  trap - EXIT INT TERM
  stop_services "$RUN_DIR" quiet || true
  if ((rc == 0)); then
    rm -rf "$RUN_DIR"
    step "services stopped"
  else
    step "services stopped; their logs are kept in $RUN_DIR/log"
  fi
  exit "$rc"
}

main() {
  local command=${1:-}
  (($#)) && shift
  case $command in
  start)
    # A start that fails half-way must not leave daemons behind.
    START_DIR=$(state_dir "${1:-}")
    trap 'rc=$?; [[ $BASHPID == "$$" ]] && { stop_services "$START_DIR" quiet || true; step "start failed; logs in $START_DIR/log"; }; exit "$rc"' EXIT
    cmd_start "$START_DIR"
    trap - EXIT
    ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  env) cmd_env "$@" ;;
  run) cmd_run "$@" ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
}

main "$@"
