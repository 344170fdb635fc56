#!/usr/bin/env bash
# Upload benchmark: our engine (package s3upload, through cmd/s3bench)
# against boto3's upload_file and `aws s3 cp`, on the same files, against one
# MinIO, in two settings run in the same invocation:
#
#   loopback  MinIO on 127.0.0.1 directly (BENCH_SIZE_MIB, default 1024 MiB),
#             then our engine on a BENCH_SPARSE_GIB (default 10) GiB sparse
#             file at the default and the highest concurrency (peak memory);
#   WAN       the same MinIO behind jamf/wanlink/cmd/wanproxy modelling a
#             long path: BENCH_WAN_DELAY (30ms) one-way delay each way,
#             BENCH_WAN_CONN_MBPS (80) Mbit/s per connection, a shared
#             BENCH_WAN_LINK_MBPS (1000) Mbit/s link, TCP slow start; files
#             of 256 MiB and BENCH_SIZE_MIB.
#
# Each run is timed by /usr/bin/time -v: throughput = file size / wall-clock
# time of the whole command (what a user waits for, Python start-up
# included), peak memory = "Maximum resident set size". boto3 and the AWS
# CLI run with their defaults (8 MiB parts, 10 threads); they compute no
# digests, our rows compute MD5 beside the upload as the processor does.
#
# Output: the tables on stdout; with BENCH_WRITE=1 (as `make bench` sets) a
# dated section is added to bench/RESULTS.md and the DEVELOPMENT.md tables are
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
endpoint=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=bench-$RANDOM$RANDOM
export AWS_SECRET_ACCESS_KEY=bench-secret-$RANDOM$RANDOM$RANDOM
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
	MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
	"$minio" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" \
	"$work/data" >"$work/minio.log" 2>&1 &
pids+=($!)
"$bench" -wait "$endpoint"
"$bench" -mkbucket -endpoint "$endpoint" -bucket bench

wan_endpoint=
if [ "${BENCH_WAN:-1}" != 0 ]; then
	"$work/wanproxy" -target "127.0.0.1:$port" -delay "$wan_delay" -conn-mbps "$wan_conn" -link-mbps "$wan_link" \
		>"$work/wanproxy.out" 2>"$work/wanproxy.log" &
	pids+=($!)
	for _ in $(seq 1 50); do
		grep -q '^URL=' "$work/wanproxy.out" 2>/dev/null && break
		sleep 0.1
	done
	wan_endpoint=$(sed -n 's/^URL=//p' "$work/wanproxy.out")
	[ -n "$wan_endpoint" ] || { echo "bench: wanproxy did not start" >&2; cat "$work/wanproxy.log" >&2; exit 1; }
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
			'BEGIN { printf "| %-44s | %7.2f | %7.1f | %6.1f | %5.0f%% |", n, s, b / s / 1048576, r / 1000, 100 * b * 8 / s / (l * 1e6) }')
	else
		line=$(awk -v n="$name" -v b="$size" -v s="$secs" -v r="$rss" \
			'BEGIN { printf "| %-44s | %7.2f | %7.1f | %6.1f |", n, s, b / s / 1048576, r / 1000 }')
	fi
	echo "$line" >>"$work/$table.rows"
	echo "$line" >&2
	echo "$table|$name|$secs" >>"$work/times.txt"
	grep -h '^uploaded' "$work/out.txt" >&2 || true
}
# Commands /usr/bin/time can run: ENDPOINT KEY FILE [HASHES [FLAGS...]].
cat >"$work/ours" <<SH
#!/bin/sh
e=\$1 k=\$2 f=\$3 h=\${4:-md5}
shift 3; [ \$# -gt 0 ] && shift
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

mib=$size_mib
if [ "${BENCH_LOOPBACK:-1}" != 0 ]; then
	echo "bench: loopback" >&2
	f=$work/file.bin
	measure loop "s3upload, MD5 beside (default: 16 in flight)" "$f" "$ours" "$endpoint" l-ours.pkg "$f"
	measure loop "s3upload, no digest" "$f" "$ours" "$endpoint" l-raw.pkg "$f" none
	measure loop "s3upload, MD5, 4 in flight" "$f" "$ours" "$endpoint" l-c4.pkg "$f" md5 -concurrency 4
	measure loop "s3upload, MD5, unsigned payload (as on HTTPS)" "$f" "$ours" "$endpoint" l-unsigned.pkg "$f" md5 -unsigned-payload
	measure loop "boto3 upload_file" "$f" "$boto" "$endpoint" l-boto3.pkg "$f"
	measure loop "aws s3 cp" "$f" "$awscp" "$endpoint" l-awscli.pkg "$f"
	if [ "$sparse_gib" -gt 0 ]; then
		truncate -s "${sparse_gib}G" "$work/sparse.bin"
		s=$work/sparse.bin
		measure loop "s3upload ${sparse_gib} GiB sparse, MD5, 16 in flight" "$s" "$ours" "$endpoint" l-sparse16.pkg "$s"
		measure loop "s3upload ${sparse_gib} GiB sparse, MD5, 64 in flight" "$s" "$ours" "$endpoint" l-sparse64.pkg "$s" md5 -concurrency 64
		rm -f "$s"
	fi
fi

if [ -n "$wan_endpoint" ]; then
	echo "bench: WAN ($wan_delay each way, $wan_conn Mbit/s per connection, $wan_link Mbit/s link)" >&2
	for f in "$work/file256.bin" "$work/file.bin"; do
		m=$(($(stat -c %s "$f") / 1048576))
		measure wan "s3upload ${m} MiB, MD5 beside (default: 16 in flight)" "$f" "$ours" "$wan_endpoint" "w-ours-$m.pkg" "$f"
		measure wan "boto3 upload_file ${m} MiB" "$f" "$boto" "$wan_endpoint" "w-boto3-$m.pkg" "$f"
		measure wan "aws s3 cp ${m} MiB" "$f" "$awscp" "$wan_endpoint" "w-awscli-$m.pkg" "$f"
	done
	measure wan "s3upload ${mib} MiB, MD5, 64 in flight" "$work/file.bin" "$ours" "$wan_endpoint" w-ours64.pkg "$work/file.bin" md5 -concurrency 64
fi
rm -f "$work/file.bin" "$work/file256.bin"

# speedup TABLE OURS OTHER: ratio of wall times.
speedup() { awk -F'|' -v t="$1" -v a="$2" -v b="$3" '$1 == t && $2 == a { x = $3 } $1 == t && $2 == b { y = $3 } END { if (x > 0 && y > 0) printf "%.2fx", y / x; else printf "n/a" }' "$work/times.txt"; }
machine="$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $load_start at start and $(cut -d' ' -f1-3 /proc/loadavg) at end, MinIO $(basename "$(dirname "$minio")"), $("$python" -c 'import boto3; print("boto3", boto3.__version__)'), $("$aws" --version 2>&1 | cut -d' ' -f1)"
{
	echo "## $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "$machine."
	[ -z "${BENCH_NOTE:-}" ] || { echo; echo "$BENCH_NOTE"; }
	if [ -s "$work/loop.rows" ]; then
		echo
		echo "Loopback MinIO, ${mib} MiB random file:"
		echo
		echo "| tool                                         | wall s  | MiB/s   | RSS MB |"
		echo "|----------------------------------------------|---------|---------|--------|"
		cat "$work/loop.rows"
		echo
		echo "Speed-up (default row): $(speedup loop "s3upload, MD5 beside (default: 16 in flight)" "boto3 upload_file") boto3, $(speedup loop "s3upload, MD5 beside (default: 16 in flight)" "aws s3 cp") aws s3 cp."
	fi
	if [ -s "$work/wan.rows" ]; then
		echo
		echo "WAN path (wanproxy: $wan_delay each way, $wan_conn Mbit/s per connection, $wan_link Mbit/s shared link, TCP slow start), same MinIO:"
		echo
		echo "| tool                                         | wall s  | MiB/s   | RSS MB | link  |"
		echo "|----------------------------------------------|---------|---------|--------|-------|"
		cat "$work/wan.rows"
		echo
		for m in 256 "$mib"; do
			o="s3upload ${m} MiB, MD5 beside (default: 16 in flight)"
			echo "Speed-up at ${m} MiB: $(speedup wan "$o" "boto3 upload_file ${m} MiB") boto3, $(speedup wan "$o" "aws s3 cp ${m} MiB") aws s3 cp."
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
		!skip { print }' DEVELOPMENT.md >"$work/readme.new"
	cp "$work/readme.new" DEVELOPMENT.md
	echo "bench: wrote $results and DEVELOPMENT.md" >&2
fi
