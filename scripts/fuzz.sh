#!/usr/bin/env bash
# Build the libFuzzer targets in tests/fuzz with clang and run each for
# SECONDS (default 30), starting from a small generated corpus.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-30}"
out="$here/build-fuzz"
mkdir -p "$out"
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -I "$here/include" -I "$here/device" -I "$here/host")
dev=("$here"/device/*.c)
for t in part image partcsv jobdoc mcu sigblock keys delta; do
  extra=()
  [ $t = partcsv ] && extra=("$here/host/partcsv.c")
  clang "${CFLAGS[@]}" "$here/tests/fuzz/fuzz_$t.c" "${dev[@]}" "${extra[@]}" -lmbedcrypto -o "$out/fuzz_$t"
done
# ottod's inputs: JSON from clients, and the MQTT job API on an in-memory store
srv=(-I "$here/server" -I "$here/include" "$here/server/log.c" "$here/server/jsonin.c")
clang "${CFLAGS[@]}" "$here/tests/fuzz/fuzz_jsonin.c" "${srv[@]}" -lcjson -o "$out/fuzz_jsonin"
clang "${CFLAGS[@]}" -I "$here/server" "$here/tests/fuzz/fuzz_proxy.c" "$here/server/proxyproto.c" -o "$out/fuzz_proxy"
clang "${CFLAGS[@]}" -I "$here/server" "$here/tests/fuzz/fuzz_links.c" "$here/server/log.c" "$here/server/links.c" -lcrypto -o "$out/fuzz_links"
clang "${CFLAGS[@]}" "$here/tests/fuzz/fuzz_csr.c" -I "$here/server" "$here/server/pki.c" -lcrypto -o "$out/fuzz_csr"
clang "${CFLAGS[@]}" "$here/tests/fuzz/fuzz_cert.c" -I "$here/server" "$here/server/pki.c" -lcrypto -o "$out/fuzz_cert"
clang "${CFLAGS[@]}" "$here/tests/fuzz/fuzz_token.c" "${srv[@]}" "$here/server/auth.c" "$here/server/sign.c" \
  "$here/server/store_sqlite.c" "$here/device/err.c" "$here/device/trust.c" "$here/device/crypto.c" \
  -lmbedcrypto -lcjson -lsqlite3 -lcrypto -o "$out/fuzz_token"
clang "${CFLAGS[@]}" "$here/tests/fuzz/fuzz_mqtt_api.c" "${srv[@]}" "$here/server/store_sqlite.c" \
  "$here/server/engine.c" "$here/server/rollout.c" "$here/server/clock.c" "$here/server/mqtt_api.c" "$here/server/deltas.c" "$here/server/firmware.c" "$here/host/delta.c" "$here/host/util.c" "$here/device/delta.c" "$here/device/image.c" "$here/device/sbv2.c" "$here/device/mcu.c" "$here/server/sign.c" "$here/device/err.c" \
  "$here/device/trust.c" "$here/device/crypto.c" "$here/server/links.c" -lmbedcrypto \
  -lcjson -lsqlite3 -lcrypto -ldivsufsort -lm -o "$out/fuzz_mqtt_api"
clang "${CFLAGS[@]}" "$here/tests/fuzz/fuzz_sign.c" "${srv[@]}" "$here/server/sign.c" "$here/server/store_sqlite.c" \
  "$here/server/engine.c" "$here/server/rollout.c" "$here/server/clock.c" "$here/server/mqtt_api.c" "$here/server/deltas.c" "$here/server/firmware.c" "$here/host/delta.c" "$here/host/util.c" "$here/device/delta.c" "$here/device/image.c" "$here/device/sbv2.c" "$here/device/mcu.c" "$here/device/err.c" "$here/device/trust.c" \
  "$here/device/crypto.c" "$here/server/links.c" -lmbedcrypto -lcjson -lsqlite3 -lcrypto -ldivsufsort -lm -o "$out/fuzz_sign"
# seed corpora: real tables, images and CSV made by the project's own tools
make -s -C "$here" build >/dev/null
mkdir -p "$out/corpus_part" "$out/corpus_image" "$out/corpus_partcsv" "$out/corpus_jobdoc" "$out/corpus_mcu" \
  "$out/corpus_delta" "$out/corpus_jsonin" "$out/corpus_mqtt_api" "$out/corpus_sign" "$out/corpus_sigblock" "$out/corpus_keys" "$out/corpus_proxy" "$out/corpus_links" "$out/corpus_csr" "$out/corpus_cert" "$out/corpus_token"
printf 'MEUCIQCq5cIsc5hCj0y5G8VYtgJv6sbCDG8Xz9M2NgQ4HcIIIgIgOD0C0ZP2Wl4b7xQwYb6W2h9QlJkq0wv6zqkQ0d2i2q0=' > "$out/corpus_sign/a"
printf '{"thing":"24:0a:c4:00:00:01","product":"lamp","groups":["attic"]}' > "$out/corpus_jsonin/a.json"
printf 'start-next\n{"clientToken":"t","statusDetails":{"step":"download"},"stepTimeoutInMinutes":5}' > "$out/corpus_mqtt_api/a"
printf 'j1/update\n{"status":"IN_PROGRESS","expectedVersion":1,"executionNumber":1,"includeJobDocument":true}' > "$out/corpus_mqtt_api/b"
printf '$next/get\n{}' > "$out/corpus_mqtt_api/c"
printf 'nvs,data,nvs,0x9000,0x4000\notadata,data,ota,,0x2000\nfactory,app,factory,,1M\n' > "$out/corpus_partcsv/a.csv"
"$here/build/otto" part gen "$out/corpus_partcsv/a.csv" -o "$out/corpus_part/a.bin" >/dev/null
"$here/build/otto" image build --version 1 --project p -o "$out/corpus_image/a.bin" >/dev/null
# a job document as ottod sends it
printf '{"product":"lamp","group":"","firmware":[{"ota_type":"esp32","url":"http://127.0.0.1:8080/fw/1","size":4096,"md5":"%s","version":"1.1.0","secure_version":1},{"ota_type":"stm32","url":"http://127.0.0.1:8080/fw/2","size":2048,"sha256":"%s","version":"2.0.0"}]}' \
  "$(printf '0%.0s' {1..32})" "$(printf 'a%.0s' {1..64})" > "$out/corpus_jobdoc/a.json"
# PROXY protocol headers, v1 and v2
printf 'PROXY TCP4 10.0.0.1 127.0.0.1 40000 8080\r\nGET / HTTP/1.1\r\n' > "$out/corpus_proxy/v1"
printf '\r\n\r\n\000\r\nQUIT\n\041\021\000\014\012\000\000\001\177\000\000\001\234\100\037\220' > "$out/corpus_proxy/v2"
# a link's parts, and a real CSR
printf '24:0a:c4:00:00:01\0001000\0000123456789abcdef0123456789abcdef' > "$out/corpus_links/a"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=24:0a:c4:00:00:01 \
  -out "$out/corpus_csr/a.pem" 2>/dev/null
# a job document with a key update
printf '{"product":"lamp","firmware":[{"ota_type":"esp32","url":"http://h/fw/1","size":9,"md5":"%s"}],"keyUpdates":[{"op":"add","key":"%s","sig-sha256-ecdsa":"R29vZA=="}]}' \
  "$(printf '0%.0s' {1..32})" "BA$(printf 'A%.0s' {1..86})" > "$out/corpus_jobdoc/k.json"
# a signed image: two length bytes (the image's), then the image and its Secure Boot v2 sector
"$here/build/otto" key gen --type rsa3072 -o "$out/sb.pem" >/dev/null 2>&1 || true
"$here/build/otto" image build --version 1 --project p --size 8K -o "$out/sb.bin" >/dev/null
"$here/build/otto" image sign --secure-boot-v2 --key "$out/sb.pem" "$out/sb.bin" -o "$out/sb.signed" >/dev/null
{ printf '\040\000'; cat "$out/sb.signed"; } > "$out/corpus_sigblock/a.bin"
# a stored list of one key, then an add and a revoke
{ printf '\103\201\001\004'; head -c 64 /dev/zero; printf '\001\004'; head -c 64 /dev/urandom; printf '\001G'; } > "$out/corpus_keys/a.bin"
# an MCU that answers a sync and Get / Get ID (F103), then ACKs everything
printf '\001\171\001\171\016\013\042\000\001\002\021\041\061\103\143\163\202\222\171\001\171\004\001\004\020\171' > "$out/corpus_mcu/a.bin"
# a base and a real patch against it (a changed image, blocks of 4 KiB)
"$here/build/otto" image build --version 1.0.0 --project p --size 3K -o "$out/d1.bin" >/dev/null
"$here/build/otto" image build --version 1.1.0 --project p --size 4K -o "$out/d2.bin" >/dev/null
"$here/build/otto" delta make "$out/d1.bin" "$out/d2.bin" --block-size 4K -o "$out/d.otdl" >/dev/null
{ python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<I", int(sys.argv[1])))' "$(stat -c %s "$out/d1.bin")"
  cat "$out/d1.bin" "$out/d.otdl"; } > "$out/corpus_delta/a.bin"
# headers: the admin token, a live one, one with a byte off
printf 'Bearer 0123456789abcdef0123456789abcdef' > "$out/corpus_token/a"
printf 'bearer aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' > "$out/corpus_token/b"
printf 'Bearer dddddddddddddddddddddddddddddddc' > "$out/corpus_token/c"
# certificates: a CA (PEM), the same in DER, and a device certificate
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=ca -days 30 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign -out "$out/corpus_cert/ca.pem" 2>/dev/null
openssl x509 -in "$out/corpus_cert/ca.pem" -outform DER -out "$out/corpus_cert/ca.der"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=24:0a:c4:00:00:01 \
  -days 30 -out "$out/corpus_cert/dev.pem" 2>/dev/null
for t in part image partcsv jobdoc mcu delta jsonin mqtt_api sign sigblock keys proxy links csr cert token; do
  echo "fuzz_$t: ${secs}s"
  if ! "$out/fuzz_$t" -artifact_prefix="$out/" -max_total_time="$secs" -max_len=8192 "$out/corpus_$t" > "$out/fuzz_$t.log" 2>&1; then
    grep -E "ERROR|SUMMARY" "$out/fuzz_$t.log" || tail -20 "$out/fuzz_$t.log"
    echo "fuzz_$t found a crash (log: build-fuzz/fuzz_$t.log)"
    exit 1
  fi
  grep -E "Done [0-9]+ runs" "$out/fuzz_$t.log"
done
