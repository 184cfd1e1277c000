#!/usr/bin/env bash
# Firmware downloads: whole file, Range resumes (206) in many pieces, 416
# for ranges past the end, ETag and If-Range, HEAD, and what is not found.
# Over HTTPS as deployed, through a link minted for one device (otto fw link).
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure
"$OTTO" image build --version 1.0.0 --project lamp --size 300K -o "$E2E_DIR/fw.bin" >/dev/null
FW=$("$OTTO" fw upload -q "$E2E_DIR/fw.bin")
URL=$("$OTTO" fw link "$FW" --thing 24:0a:c4:03:00:01 --ttl 600)
check "otto fw link: HTTPS, for that thing, expiring in 600 s" \
    sh -c "echo '$URL' | grep -q '^https://127.0.0.1:$HTTP_PORT/fw/$FW?thing=24:0a:c4:03:00:01&expires=[0-9]*&sig=[0-9a-f]\{32\}$'"
code=$(curl -s -o "$E2E_DIR/body" -w '%{http_code}' "$OTTO_URL/fw/$FW")
check "the bare address: 403, saying why ($code)" sh -c "[ $code = 403 ] && grep -q 'not signed' '$E2E_DIR/body'"
out=$(OTTO_TOKEN=$("$OTTO" token create --name dl-viewer --role viewer 2>/dev/null) "$OTTO" fw link "$FW" --thing x 2>&1); rc=$?
check "a viewer cannot mint links ($rc)" sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q 'viewer token may not'"
SIZE=$(stat -c %s "$E2E_DIR/fw.bin")
SHA=$(sha256sum <"$E2E_DIR/fw.bin" | cut -c1-64)

code=$(curl -s -D "$E2E_DIR/h.txt" -o "$E2E_DIR/all.bin" -w '%{http_code}' "$URL")
check "GET: 200" test "$code" = 200
check "GET: the same bytes" cmp -s "$E2E_DIR/all.bin" "$E2E_DIR/fw.bin"
check "GET: ETag is the SHA-256" grep -qi "^etag: \"$SHA\"" "$E2E_DIR/h.txt"
check "GET: Accept-Ranges: bytes" grep -qi "^accept-ranges: bytes" "$E2E_DIR/h.txt"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer nonsense" "$URL")
check "the link is the credential: no token needed, a bad one ignored ($code)" test "$code" = 200

# Resume in seven uneven pieces, as a device with power cuts would.
: >"$E2E_DIR/pieces.bin"
off=0; n=0; all206=1
for step in 1 4095 4096 65536 100000 131072 999999; do
    end=$((off + step - 1)); [ $end -ge $SIZE ] && end=$((SIZE - 1))
    code=$(curl -s -D "$E2E_DIR/h.txt" -H "Range: bytes=$off-$end" -o "$E2E_DIR/part" -w '%{http_code}' "$URL")
    [ "$code" = 206 ] || all206=0
    grep -qi "^content-range: bytes $off-$end/$SIZE" "$E2E_DIR/h.txt" || all206=0
    cat "$E2E_DIR/part" >>"$E2E_DIR/pieces.bin"
    off=$((end + 1)); n=$((n + 1))
    [ $off -ge $SIZE ] && break
done
check "$n Range requests: each 206 with its Content-Range" test $all206 = 1
check "the pieces make the file" cmp -s "$E2E_DIR/pieces.bin" "$E2E_DIR/fw.bin"

code=$(curl -s -H "Range: bytes=$((SIZE - 100))-" -o "$E2E_DIR/tail" -w '%{http_code}' "$URL")
check "open-ended range: the tail" sh -c "[ $code = 206 ] && [ \$(stat -c %s '$E2E_DIR/tail') = 100 ]"
code=$(curl -s -H "Range: bytes=-10" -o "$E2E_DIR/tail" -w '%{http_code}' "$URL")
check "suffix range: the last 10 bytes" sh -c "[ $code = 206 ] && tail -c 10 '$E2E_DIR/fw.bin' | cmp -s - '$E2E_DIR/tail'"
code=$(curl -s -D "$E2E_DIR/h.txt" -H "Range: bytes=$SIZE-" -o /dev/null -w '%{http_code}' "$URL")
check "range at the end: 416" test "$code" = 416
check "416 says the size" grep -qi "^content-range: bytes \*/$SIZE" "$E2E_DIR/h.txt"
code=$(curl -s -H "Range: bytes=0-1,5-6" -o "$E2E_DIR/multi" -w '%{http_code}' "$URL")
check "several ranges: the whole file (200)" sh -c "[ $code = 200 ] && cmp -s '$E2E_DIR/multi' '$E2E_DIR/fw.bin'"
code=$(curl -s -H "Range: bytes=100-199" -H "If-Range: \"$SHA\"" -o /dev/null -w '%{http_code}' "$URL")
check "If-Range with the current ETag: 206" test "$code" = 206
code=$(curl -s -H "Range: bytes=100-199" -H 'If-Range: "someotherfile"' -o "$E2E_DIR/ir" -w '%{http_code}' "$URL")
check "If-Range with a stale ETag: 200 and the whole file" sh -c "[ $code = 200 ] && cmp -s '$E2E_DIR/ir' '$E2E_DIR/fw.bin'"
code=$(curl -s -I -o "$E2E_DIR/h.txt" -w '%{http_code}' "$URL")
check "HEAD: 200 with the length" sh -c "[ $code = 200 ] && grep -qi '^content-length: $SIZE' '$E2E_DIR/h.txt'"
code=$(curl -s -o /dev/null -w '%{http_code}' "$OTTO_URL/fw/fw-000000000000")
check "unknown firmware, no link: 403 before anything is looked up ($code)" test "$code" = 403
"$OTTO" fw link fw-000000000000 --thing 24:0a:c4:03:00:01 >/dev/null 2>"$E2E_DIR/err.txt"
check "no link for unknown firmware ($(cat "$E2E_DIR/err.txt"))" grep -q "no firmware 'fw-000000000000'" "$E2E_DIR/err.txt"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL")
check "DELETE on a download: 405" test "$code" = 405

# Many clients at once resuming from different offsets.
pids=
for i in $(seq 8); do
    curl -s -H "Range: bytes=$((i * 1000))-" -o "$E2E_DIR/c$i" "$URL" &
    pids="$pids $!"
done
wait $pids    # not a bare wait: the broker and ottod are our children too
okc=0
for i in $(seq 8); do tail -c +$((i * 1000 + 1)) "$E2E_DIR/fw.bin" | cmp -s - "$E2E_DIR/c$i" && okc=$((okc + 1)); done
check "8 concurrent resumes all correct" test $okc = 8
e2e_done
