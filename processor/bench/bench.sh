#!/usr/bin/env bash
# End-to-end benchmark of jcds2-uploader: the real binary against the Jamf
# Pro simulator (jamf/cmd/jamfsim) whose JCDS is a real MinIO on loopback,
# reached through the simulator's S3 proxy exactly as in the tests.
#
#   1. a new package of BENCH_SIZE_MIB (default 1024) MiB, end to end
#      (token, lookups, multipart upload, server-side move and hash,
#      inventory refresh, verification, metadata): wall time, throughput,
#      peak RSS;
#   2. the nightly no-op (object exists, replace_pkg off): wall time and the
#      number of Jamf Pro HTTP requests (target <= 4), from /_sim/state;
#   3. BENCH_NOOP_RUNS (default 100) back-to-back no-op runs from an empty
#      token cache: total time and token requests (target 1);
#   4. peak RSS of the uploader by mode and size (target <= 64 MB): a new
#      package through v1 (multipart/form-data to /api/v1/packages/{id}/upload)
#      at BENCH_SIZE_MIB, and through v1 and jcds2 as a BENCH_SPARSE_GIB
#      (default 10, 0 skips) GiB sparse file.
#
# S3 upload throughput against boto3 and aws-cli is measured by
# jamf/s3upload/bench/bench.sh, not here.
#
# Needs the pinned MinIO binary ($MINIO_BIN, else the path miniotest
# reports; `make tools` builds it), curl and jq. Writes a summary to
# standard output (and to $BENCH_OUT if set).
#
# Environment: BENCH_SIZE_MIB, BENCH_NOOP_RUNS, BENCH_DIR (scratch folder,
# kept when given; default a temp dir, removed).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
size_mib=${BENCH_SIZE_MIB:-1024}
noop_runs=${BENCH_NOOP_RUNS:-100}

for tool in curl jq; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 1; }
done

work=${BENCH_DIR:-$(mktemp -d /tmp/e2ebench.XXXXXX)}
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

echo "bench: building" >&2
CGO_ENABLED=0 go build -trimpath -o "$work/jcds2-uploader" .
CGO_ENABLED=0 go build -trimpath -o "$work/jamfsim" ./jamf/cmd/jamfsim
go build -o "$work/s3bench" ./jamf/s3upload/bench/cmd/s3bench
uploader=$work/jcds2-uploader

minio=${MINIO_BIN:-$("$work/s3bench" -minio-path)}
if [ ! -x "$minio" ]; then
	echo "bench: MinIO binary missing at $minio (run \`make tools\` or set MINIO_BIN)" >&2
	exit 1
fi

# MinIO on loopback with throwaway root credentials.
port=$("$work/s3bench" -free-port)
console=$("$work/s3bench" -free-port)
minio_url=http://127.0.0.1:$port
minio_user=bench-$RANDOM$RANDOM
minio_pass=bench-secret-$RANDOM$RANDOM$RANDOM
MINIO_ROOT_USER=$minio_user MINIO_ROOT_PASSWORD=$minio_pass \
	MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
	"$minio" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" \
	"$work/minio-data" >"$work/minio.log" 2>&1 &
pids+=($!)
"$work/s3bench" -wait "$minio_url"

# The simulator prints JSS_URL=… and AWS_ENDPOINT_URL_S3=… first. It is a
# Jamf Cloud cluster; the nightly no-op comes a day after the upload, long
# after the nodes caught up, which a short lag waited out below stands for.
# -time-scale 30 runs Jamf Cloud's pace at a thirtieth: the minute of lag
# in 2 s, a 10 GiB package's quarter hour of processing in 30 s (the
# bench measures the uploader, not the service).
"$work/jamfsim" -s3-endpoint "$minio_url" -s3-access-key "$minio_user" -s3-secret-key "$minio_pass" -time-scale 30 \
	>"$work/jamfsim.out" 2>"$work/jamfsim.log" &
pids+=($!)
for _ in $(seq 1 100); do
	grep -q '^AWS_ENDPOINT_URL_S3=' "$work/jamfsim.out" 2>/dev/null && break
	sleep 0.1
done
jss_url=$(sed -n 's/^JSS_URL=//p' "$work/jamfsim.out")
s3_url=$(sed -n 's/^AWS_ENDPOINT_URL_S3=//p' "$work/jamfsim.out")
[ -n "$jss_url" ] && [ -n "$s3_url" ] || { echo "bench: simulator did not start" >&2; cat "$work/jamfsim.log" >&2; exit 1; }

state() { curl -fsS "$jss_url/_sim/state"; }

echo "bench: writing a ${size_mib} MiB random package" >&2
pkg="$work/Bench App.pkg"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$pkg"
bytes=$(stat -c %s "$pkg")

cat >"$work/env.plist" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>JSS_URL</key><string>$jss_url</string>
	<key>API_USERNAME</key><string>admin</string>
	<key>API_PASSWORD</key><string>password</string>
	<key>pkg_path</key><string>$pkg</string>
	<key>jcds2_mode</key><true/>
	<key>NAME</key><string>Bench App</string>
	<key>version</key><string>1.0</string>
	<key>verify_timeout</key><integer>600</integer>
</dict>
</plist>
EOF

home=$work/home
mkdir -p "$home"
run_uploader() { # $1: home folder; output plist to $work/out.plist
	env -i PATH="$PATH" HOME="$1" XDG_CACHE_HOME="$1/.cache" \
		AWS_ENDPOINT_URL_S3="$s3_url" AWS_EC2_METADATA_DISABLED=true NO_PROXY=127.0.0.1,localhost \
		"$uploader" <"$work/env.plist" >"$work/out.plist" 2>>"$work/uploader.log"
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }

# 1. New package end to end.
echo "bench: uploading ${size_mib} MiB end to end" >&2
t0=$(now)
/usr/bin/time -v -o "$work/time.txt" env -i PATH="$PATH" HOME="$home" XDG_CACHE_HOME="$home/.cache" \
	AWS_ENDPOINT_URL_S3="$s3_url" AWS_EC2_METADATA_DISABLED=true NO_PROXY=127.0.0.1,localhost \
	"$uploader" -v <"$work/env.plist" >"$work/out.plist" 2>"$work/upload-v.log"
t1=$(now)
cat "$work/upload-v.log" >>"$work/uploader.log"
# The S3 phase alone, as the uploader's own progress line reports it.
s3_phase=$(grep -o 'uploading Bench App.pkg: [^)]*)' "$work/upload-v.log" | tail -1 | sed 's/^uploading Bench App.pkg: //')
grep -q '<key>pkg_uploaded</key>[[:space:]]*<true/>' <(tr -d '\n' <"$work/out.plist") ||
	{ echo "bench: the upload did not report pkg_uploaded" >&2; tail -20 "$work/uploader.log" >&2; exit 1; }
new_wall=$(elapsed "$t0" "$t1")
new_mibs=$(awk -v b="$bytes" -v s="$new_wall" 'BEGIN{printf "%.1f", b/1048576/s}')
new_rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
new_calls=$(state | jq '.calls | length')
jcds_size=$(state | jq --arg n "Bench App.pkg" '[.files[] | select(.fileName == $n) | .length][0]')
[ "$jcds_size" = "$bytes" ] || { echo "bench: JCDS holds $jcds_size bytes, want $bytes" >&2; exit 1; }

# 2. The nightly no-op.
sleep 3 # the cluster lag: every node sees the upload's writes
before=$(state | jq '.calls | length')
tok_before=$(state | jq '.counts.tokenRequests')
t0=$(now)
run_uploader "$home"
t1=$(now)
noop_wall=$(elapsed "$t0" "$t1")
after=$(state | jq '.calls | length')
noop_calls=$((after - before))
noop_paths=$(state | jq -r --argjson b "$before" '.calls[$b:] | map(.method + " " + .path) | join(", ")')
noop_tokens=$(($(state | jq '.counts.tokenRequests') - tok_before))
grep -q 'skipped_exists\|<key>pkg_uploaded</key>[[:space:]]*<false/>' <(tr -d '\n' <"$work/out.plist") ||
	{ echo "bench: the no-op run uploaded" >&2; exit 1; }

# 3. Back-to-back no-op runs from an empty token cache.
home2=$work/home2
mkdir -p "$home2"
tok_before=$(state | jq '.counts.tokenRequests')
before=$(state | jq '.calls | length')
t0=$(now)
for _ in $(seq 1 "$noop_runs"); do
	run_uploader "$home2"
done
t1=$(now)
loop_wall=$(elapsed "$t0" "$t1")
loop_tokens=$(($(state | jq '.counts.tokenRequests') - tok_before))
loop_calls=$(($(state | jq '.calls | length') - before))
loop_per=$(awk -v s="$loop_wall" -v n="$noop_runs" 'BEGIN{printf "%.1f", s*1000/n}')

# 4. Peak RSS by mode and size. Each run is a new package (own name), with
# md5 on so the metadata digest is the quick one; the simulator hashes what
# it stores (SHA3-512) while the upload streams, which sets the pace.
sparse_gib=${BENCH_SPARSE_GIB:-10}
rss_rows=()
rss_run() { # NAME FILE MODE
	local name=$1 file=$2 mode=$3 plist=$work/rss.plist t0 t1 kb
	sed -e "s|<string>$pkg</string>|<string>$file</string>|" \
		-e "s|<key>jcds2_mode</key><true/>|<key>upload_mode</key><string>$mode</string><key>md5</key><true/>|" \
		"$work/env.plist" >"$plist"
	t0=$(now)
	/usr/bin/time -v -o "$work/time-rss.txt" env -i PATH="$PATH" HOME="$home" XDG_CACHE_HOME="$home/.cache" \
		AWS_ENDPOINT_URL_S3="$s3_url" AWS_EC2_METADATA_DISABLED=true NO_PROXY=127.0.0.1,localhost \
		"$uploader" -v <"$plist" >"$work/out.plist" 2>>"$work/uploader.log" ||
		{ echo "bench: $name failed" >&2; tail -20 "$work/uploader.log" >&2; exit 1; }
	t1=$(now)
	grep -q '<key>pkg_uploaded</key>[[:space:]]*<true/>' <(tr -d '\n' <"$work/out.plist") ||
		{ echo "bench: $name did not upload" >&2; exit 1; }
	kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time-rss.txt")
	rss_rows+=("$(awk -v n="$name" -v s="$(stat -c %s "$file")" -v w="$(elapsed "$t0" "$t1")" -v k="$kb" \
		'BEGIN { printf "| %s | %.1f s | %.1f MiB/s | %.1f MB |", n, w, s / 1048576 / w, k / 1000 }')")
	echo "${rss_rows[-1]}" >&2
}
echo "bench: peak RSS by mode" >&2
cp "$pkg" "$work/Bench V1.pkg"
rss_run "v1, ${size_mib} MiB" "$work/Bench V1.pkg" v1
rm -f "$work/Bench V1.pkg"
if [ "$sparse_gib" -gt 0 ]; then
	truncate -s "${sparse_gib}G" "$work/Bench Sparse V1.pkg"
	rss_run "v1, ${sparse_gib} GiB sparse" "$work/Bench Sparse V1.pkg" v1
	rm -f "$work/Bench Sparse V1.pkg"
	truncate -s "${sparse_gib}G" "$work/Bench Sparse.pkg"
	rss_run "jcds2, ${sparse_gib} GiB sparse" "$work/Bench Sparse.pkg" jcds2
	rm -f "$work/Bench Sparse.pkg"
fi

summary=$(
	cat <<EOF
jcds2-uploader end-to-end benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(go version | awk '{print $3}'))
new package ${size_mib} MiB via jamfsim + MinIO: ${new_wall} s wall, ${new_mibs} MiB/s, peak RSS $((new_rss_kb / 1024)) MiB, ${new_calls} Jamf requests; S3 phase alone: ${s3_phase:-?}
nightly no-op: ${noop_wall} s wall, ${noop_calls} Jamf requests (target <= 4), ${noop_tokens} token requests: ${noop_paths}
${noop_runs} back-to-back no-op runs: ${loop_wall} s total (${loop_per} ms/run), ${loop_tokens} token requests (target 1), ${loop_calls} Jamf requests
peak RSS of the uploader, new package end to end (target <= 64 MB):
| run | wall | throughput | peak RSS |
|---|---|---|---|
$(printf '%s\n' "${rss_rows[@]}")
EOF
)
echo "$summary"
[ -z "${BENCH_OUT:-}" ] || echo "$summary" >"$BENCH_OUT"

status=0
[ "$noop_calls" -le 4 ] || { echo "bench: FAIL nightly no-op made $noop_calls requests (target <= 4)" >&2; status=1; }
[ "$loop_tokens" -eq 1 ] || { echo "bench: FAIL $noop_runs no-op runs requested $loop_tokens tokens (target 1)" >&2; status=1; }
exit $status
