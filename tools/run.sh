#!/bin/sh
# make run: demo data, a development signing key and a config in run/,
# then cardd in the foreground on 127.0.0.1 (HTTP 8080, RESP 7070).
set -e
build=${1:-build}
mkdir -p run
if [ ! -f run/cards.csv ]; then
	echo "making 100000 demo cards: run/cards.csv"
	"$build/cardctl" gen 100000 --seed 1 -o run/cards.csv
fi
if [ ! -f run/signing.pem ]; then
	echo "making a development signing key: run/signing.pem"
	"$build/cardctl" keygen run/signing.pem > run/jwks.json
fi
if [ ! -f run/issuer.pem ]; then
	echo "making a demo card-code issuer key: run/issuer.pem"
	"$build/cardctl" keygen run/issuer.pem > run/issuer.jwks
fi
cat > run/cardd.conf <<'CONF'
# Development config written by `make run` (conf/cardd.conf documents
# every key). Relative paths are taken from this file's folder.
http_listen 127.0.0.1:8080
resp_listen 127.0.0.1:7070
source file:cards.csv
signing_key signing.pem
# Electronic card codes from a demo issuer (cardctl code mints them).
code_issuer demo-card-platform issuer.jwks
# Development only: no client credentials, so the listeners must stay on
# loopback (cardd refuses auth none anywhere else).
auth none
CONF
cat <<'TXT'

cardd is starting on 127.0.0.1 (HTTP 8080, RESP 7070). Try, from another terminal:

  # a valid card
  curl -s 'http://127.0.0.1:8080/v1/validity?card=000000000000'
  # an expired permit
  curl -s 'http://127.0.0.1:8080/v1/validity?card=000000000001'
  # a lapsed medical coverage, over RESP
  redis-cli -p 7070 COVERAGE 000000000002 medical
  # ask, print statement and signature, and verify against the server's JWKS
  build/cardctl check coverage 000000000000 medical --region 440300 --verify
  # an electronic card code instead of the number (--qr shows it as a QR code)
  code=$(build/cardctl code 000000000000 --key run/issuer.pem --iss demo-card-platform)
  curl -s "http://127.0.0.1:8080/v1/coverage?code=$code&scheme=medical"

Stop with Ctrl-C.

TXT
exec "$build/cardd" -c run/cardd.conf
