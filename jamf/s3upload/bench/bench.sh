#!/usr/bin/env bash
# Upload benchmark: our engine (package s3upload, through cmd/s3bench)
# against boto3's upload_file and `aws s3 cp`, on the same files, against one
# MinIO, in two settings run in the same invocation:
#
#   loopback  MinIO on 127.0.0.1 directly (BENCH_SIZE_MIB, default 1024 MiB),
#             over plain HTTP and over HTTPS, then our engine on a
#             BENCH_SPARSE_GIB (default 10) GiB sparse file at the default
#             and the highest concurrency (peak memory);
#   WAN       the same MinIO behind jamf/wanlink/cmd/wanproxy modelling a
#             long path: BENCH_WAN_DELAY (30ms) one-way delay each way,
#             BENCH_WAN_CONN_MBPS (80) Mbit/s per connection, a shared
#             BENCH_WAN_LINK_MBPS (1000) Mbit/s link, TCP slow start; files
#             of 256 MiB and BENCH_SIZE_MIB, over HTTPS and over plain HTTP.
#
# HTTPS is how every client reaches real S3 (JCDS hands out an https
# endpoint), and it changes what the clients do, not only the cipher: over
# HTTPS the AWS SDKs sign no payload hash and send their checksum as a
# trailer computed while sending, over plain HTTP they read each part once
# more beforehand to hash it. So the HTTPS rows are the ones that say how
# the uploaders compare for a Mac admin; the HTTP rows are kept to compare
# with earlier runs. The second MinIO serves HTTPS with a self-signed
# certificate for 127.0.0.1 (s3bench -gen-cert), trusted through -ca and
# AWS_CA_BUNDLE.
#
# Each run is timed by /usr/bin/time -v: throughput = file size / wall-clock
# time of the whole command (what a user waits for, Python start-up
# included), peak memory = "Maximum resident set size". boto3 and the AWS
# CLI run with their defaults (8 MiB parts, 10 threads); they compute no
# digests, our rows compute MD5 beside the upload as the processor does.
#
# Output: the tables on stdout; with BENCH_WRITE=1 (as `make bench` sets) a
# dated section is added to bench/RESULTS.md and the README's tables are
# replaced. Needs MinIO ($MINIO_BIN, else miniotest.BinaryPath()), boto3 and
# the AWS CLI (python3 -c 'import boto3'; aws), /usr/bin/time.
#
# Environment: BENCH_SIZE_MIB, BENCH_SPARSE_GIB (0 skips), BENCH_WAN=0 skips
# the WAN runs, BENCH_LOOPBACK=0 the loopback ones, BENCH_DIR (scratch,
# default a temp dir), BENCH_NOTE (a line for RESULTS.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
size_mib=${BENCH_SIZE_MIB:-1024}
sparse_gib=${BENCH_SPARSE_GIB:-10}
wan_delay=${BENCH_WAN_DELAY:-30ms}
wan_conn=${BENCH_WAN_CONN_MBPS:-80}
wan_link=${BENCH_WAN_LINK_MBPS:-1000}

python=$(command -v python3 || true)
aws=$(command -v aws || true)
if ! { [ -x /usr/bin/time ] && [ -n "$python" ] && "$python" -c 'import boto3' 2>/dev/null && [ -n "$aws" ]; }; then
	echo "bench: installing time, python3-boto3, awscli from Debian" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time python3-boto3 awscli >/dev/null
	python=/usr/bin/python3 aws=/usr/bin/aws
fi

work=${BENCH_DIR:-$(mktemp -d /tmp/s3bench.XXXXXX)}
mkdir -p "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/s3bench" ./jamf/s3upload/bench/cmd/s3bench
go build -o "$work/wanproxy" ./jamf/wanlink/cmd/wanproxy
bench=$work/s3bench
minio=${MINIO_BIN:-$("$bench" -minio-path)}
if [ ! -x "$minio" ]; then
	echo "bench: MinIO binary missing at $minio (run \`make tools\` or set MINIO_BIN)" >&2
	exit 1
fi

port=$("$bench" -free-port)
console=$("$bench" -free-port)
tls_port=$("$bench" -free-port)
tls_console=$("$bench" -free-port)
endpoint=http://127.0.0.1:$port
tls_endpoint=https://127.0.0.1:$tls_port
"$bench" -gen-cert "$work/certs"
export AWS_CA_BUNDLE=$work/certs/public.crt
export AWS_ACCESS_KEY_ID=bench-$RANDOM$RANDOM
export AWS_SECRET_ACCESS_KEY=bench-secret-$RANDOM$RANDOM$RANDOM
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
	MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
	"$minio" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" \
	"$work/data" >"$work/minio.log" 2>&1 &
pids+=($!)
MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
	MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
	"$minio" server --quiet --certs-dir "$work/certs" --address "127.0.0.1:$tls_port" \
	--console-address "127.0.0.1:$tls_console" "$work/data-tls" >"$work/minio-tls.log" 2>&1 &
pids+=($!)
"$bench" -wait "$endpoint"
"$bench" -mkbucket -endpoint "$endpoint" -bucket bench
"$bench" -wait "$tls_endpoint" -ca "$AWS_CA_BUNDLE"
"$bench" -mkbucket -endpoint "$tls_endpoint" -ca "$AWS_CA_BUNDLE" -bucket bench

# start_wanproxy NAME PORT: a wanproxy in front of 127.0.0.1:PORT; prints
# its host:port.
start_wanproxy() {
	"$work/wanproxy" -target "127.0.0.1:$2" -delay "$wan_delay" -conn-mbps "$wan_conn" -link-mbps "$wan_link" \
		>"$work/wanproxy-$1.out" 2>"$work/wanproxy-$1.log" &
	pids+=($!)
	for _ in $(seq 1 50); do
		grep -q '^URL=' "$work/wanproxy-$1.out" 2>/dev/null && break
		sleep 0.1
	done
	local u
	u=$(sed -n 's/^URL=http:\/\///p' "$work/wanproxy-$1.out")
	[ -n "$u" ] || { echo "bench: wanproxy did not start" >&2; cat "$work/wanproxy-$1.log" >&2; exit 1; }
	echo "$u"
}
wan_endpoint= wan_tls_endpoint=
if [ "${BENCH_WAN:-1}" != 0 ]; then
	# Not in a command substitution: its pid must reach pids for cleanup.
	start_wanproxy http "$port" >"$work/wan-http.addr"
	start_wanproxy https "$tls_port" >"$work/wan-https.addr"
	wan_endpoint=http://$(cat "$work/wan-http.addr")
	wan_tls_endpoint=https://$(cat "$work/wan-https.addr")
fi

echo "bench: writing a ${size_mib} MiB random file" >&2
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/file.bin"
head -c "$((256 * 1024 * 1024))" "$work/file.bin" >"$work/file256.bin"

cat >"$work/boto3_upload.py" <<'PY'
import sys
import boto3
from botocore.config import Config

endpoint, path, key = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))
s3.upload_file(path, "bench", key)
PY

# measure TABLE NAME FILE COMMAND...: runs the command under /usr/bin/time -v
# and appends a row to $work/TABLE.rows (link share when TABLE is wan).
measure() {
	local table=$1 name=$2 file=$3
	shift 3
	local size t=$work/time.txt
	size=$(stat -c %s "$file")
	# Every tool starts with the file in the page cache: MinIO's writes
	# from the runs before can evict it, and whichever tool ran first
	# would pay for the disk. (The sparse file has no data to cache.)
	[ "$size" -gt $((2 << 30)) ] || cat "$file" >/dev/null
	if ! /usr/bin/time -v -o "$t" "$@" >"$work/out.txt" 2>"$work/err.txt"; then
		echo "bench: $name failed:" >&2
		cat "$work/out.txt" "$work/err.txt" >&2
		exit 1
	fi
	local wall rss secs line
	wall=$(sed -n 's/^.*Elapsed (wall clock) time.*: //p' "$t")
	rss=$(sed -n 's/^.*Maximum resident set size (kbytes): //p' "$t")
	secs=$(awk -v w="$wall" 'BEGIN { n = split(w, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }')
	if [ "$table" = wan ]; then
		line=$(awk -v n="$name" -v b="$size" -v s="$secs" -v r="$rss" -v l="$wan_link" \
			'BEGIN { printf "| %-54s | %7.2f | %7.1f | %6.1f | %5.0f%% |", n, s, b / s / 1048576, r / 1000, 100 * b * 8 / s / (l * 1e6) }')
	else
		line=$(awk -v n="$name" -v b="$size" -v s="$secs" -v r="$rss" \
			'BEGIN { printf "| %-54s | %7.2f | %7.1f | %6.1f |", n, s, b / s / 1048576, r / 1000 }')
	fi
	echo "$line" >>"$work/$table.rows"
	echo "$line" >&2
	echo "$table|$name|$secs" >>"$work/times.txt"
	grep -h '^uploaded' "$work/out.txt" >&2 || true
	case $name in *"default plan"*) sed -n 's/^uploaded [0-9]* bytes in [^:]*: [^,]*, /default plan /p' "$work/out.txt" | sed "s/^default plan /default plan $((size / 1048576)) MiB: /" >>"$work/plans.txt" ;; esac
}
# Commands /usr/bin/time can run: ENDPOINT KEY FILE [HASHES [FLAGS...]].
cat >"$work/ours" <<SH
#!/bin/sh
e=\$1 k=\$2 f=\$3 h=\${4:-md5}
shift 3; [ \$# -gt 0 ] && shift
case \$e in https:*) set -- -ca "\$AWS_CA_BUNDLE" "\$@" ;; esac
exec "$bench" -endpoint "\$e" -bucket bench -key "\$k" -file "\$f" -hashes "\$h" "\$@"
SH
cat >"$work/boto" <<SH
#!/bin/sh
exec "$python" "$work/boto3_upload.py" "\$1" "\$3" "\$2"
SH
cat >"$work/awscp" <<SH
#!/bin/sh
exec "$aws" --endpoint-url "\$1" s3 cp "\$3" "s3://bench/\$2" --only-show-errors
SH
chmod +x "$work/ours" "$work/boto" "$work/awscp"
ours=$work/ours boto=$work/boto awscp=$work/awscp
default="MD5 beside (default plan)"

# three TABLE LABEL ENDPOINT FILE: our engine with its defaults, boto3 and
# the AWS CLI, one after another on the same file and endpoint.
three() {
	local table=$1 label=$2 e=$3 f=$4 tag
	tag=$(echo "$table-$label" | tr -c 'a-zA-Z0-9\n' '-')
	measure "$table" "s3upload $label, $default" "$f" "$ours" "$e" "$tag-ours.pkg" "$f"
	measure "$table" "boto3 upload_file $label" "$f" "$boto" "$e" "$tag-boto3.pkg" "$f"
	measure "$table" "aws s3 cp $label" "$f" "$awscp" "$e" "$tag-awscli.pkg" "$f"
}

mib=$size_mib
if [ "${BENCH_LOOPBACK:-1}" != 0 ]; then
	echo "bench: loopback" >&2
	f=$work/file.bin
	three loop HTTP "$endpoint" "$f"
	measure loop "s3upload HTTP, no digest" "$f" "$ours" "$endpoint" l-raw.pkg "$f" none
	measure loop "s3upload HTTP, MD5, 4 in flight" "$f" "$ours" "$endpoint" l-c4.pkg "$f" md5 -concurrency 4
	measure loop "s3upload HTTP, MD5, unsigned payload" "$f" "$ours" "$endpoint" l-unsigned.pkg "$f" md5 -unsigned-payload
	three loop HTTPS "$tls_endpoint" "$f"
	if [ "$sparse_gib" -gt 0 ]; then
		truncate -s "${sparse_gib}G" "$work/sparse.bin"
		s=$work/sparse.bin
		measure loop "s3upload HTTP, ${sparse_gib} GiB sparse, $default" "$s" "$ours" "$endpoint" l-sparse.pkg "$s"
		measure loop "s3upload HTTP, ${sparse_gib} GiB sparse, MD5, 64 in flight" "$s" "$ours" "$endpoint" l-sparse64.pkg "$s" md5 -concurrency 64
		rm -f "$s"
	fi
fi

if [ -n "$wan_endpoint" ]; then
	echo "bench: WAN ($wan_delay each way, $wan_conn Mbit/s per connection, $wan_link Mbit/s link)" >&2
	for f in "$work/file256.bin" "$work/file.bin"; do
		m=$(($(stat -c %s "$f") / 1048576))
		three wan "HTTPS ${m} MiB" "$wan_tls_endpoint" "$f"
	done
	measure wan "s3upload HTTPS ${mib} MiB, MD5, 64 in flight" "$work/file.bin" "$ours" "$wan_tls_endpoint" w-ours64.pkg "$work/file.bin" md5 -concurrency 64
	for f in "$work/file256.bin" "$work/file.bin"; do
		m=$(($(stat -c %s "$f") / 1048576))
		three wan "HTTP ${m} MiB" "$wan_endpoint" "$f"
	done
fi
rm -f "$work/file.bin" "$work/file256.bin"

# speedup TABLE OURS OTHER: ratio of wall times.
speedup() { awk -F'|' -v t="$1" -v a="$2" -v b="$3" '$1 == t && $2 == a { x = $3 } $1 == t && $2 == b { y = $3 } END { if (x > 0 && y > 0) printf "%.2fx", y / x; else printf "n/a" }' "$work/times.txt"; }
# speedups TABLE LABEL: our default row against boto3 and the AWS CLI.
speedups() {
	echo "- $2: $(speedup "$1" "s3upload $2, $default" "boto3 upload_file $2") boto3, $(speedup "$1" "s3upload $2, $default" "aws s3 cp $2") aws s3 cp."
}
machine="$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $load_start at start and $(cut -d' ' -f1-3 /proc/loadavg) at end, MinIO $(basename "$(dirname "$minio")"), $("$python" -c 'import boto3; print("boto3", boto3.__version__)'), $("$aws" --version 2>&1 | cut -d' ' -f1)"
header="| tool                                                   | wall s  | MiB/s   | RSS MB |"
rule="|--------------------------------------------------------|---------|---------|--------|"
{
	echo "## $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "$machine."
	[ -z "${BENCH_NOTE:-}" ] || { echo; echo "$BENCH_NOTE"; }
	echo
	echo "Default plan: $(grep -h '^default plan' "$work/plans.txt" 2>/dev/null | sort -u | sed 's/^default plan //' | paste -sd ';' - | sed 's/;/; /g')."
	if [ -s "$work/loop.rows" ]; then
		echo
		echo "Loopback MinIO, ${mib} MiB random file:"
		echo
		echo "$header"
		echo "$rule"
		cat "$work/loop.rows"
		echo
		echo "Speed-up of the default row:"
		echo
		speedups loop HTTP
		speedups loop HTTPS
	fi
	if [ -s "$work/wan.rows" ]; then
		echo
		echo "WAN path (wanproxy: $wan_delay each way, $wan_conn Mbit/s per connection, $wan_link Mbit/s shared link, TCP slow start), same MinIO:"
		echo
		echo "$header link  |"
		echo "$rule-------|"
		cat "$work/wan.rows"
		echo
		echo "Speed-up of the default row:"
		echo
		for proto in HTTPS HTTP; do
			for m in 256 "$mib"; do
				speedups wan "$proto $m MiB"
			done
		done
	fi
} >"$work/report.md"
cat "$work/report.md"

if [ "${BENCH_WRITE:-0}" = 1 ]; then
	results=jamf/s3upload/bench/RESULTS.md
	marker='<!-- bench.sh adds runs below -->'
	awk -v m="$marker" -v f="$work/report.md" '{ print } $0 == m { print ""; while ((getline l < f) > 0) print l }' "$results" >"$work/results.new"
	cp "$work/results.new" "$results"
	start='<!-- s3bench:start -->' end='<!-- s3bench:end -->'
	awk -v s="$start" -v e="$end" -v f="$work/report.md" '
		$0 == s { print; while ((getline l < f) > 0) if (l !~ /^## /) print l; skip = 1; next }
		$0 == e { skip = 0 }
		!skip { print }' README.md >"$work/readme.new"
	cp "$work/readme.new" README.md
	echo "bench: wrote $results and README.md" >&2
fi
