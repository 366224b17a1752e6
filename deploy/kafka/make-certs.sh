#!/bin/sh
# The Kafka broker's TLS material for docker-compose.yml, generated here and never checked in
# (deploy/kafka/secrets/ is git-ignored and docker-ignored):
#   ca.key, ca.pem           a private CA for this deployment (ca.pem is what every client trusts)
#   kafka.key, kafka.pem     the broker's key and certificate, for the names kafka and localhost
#   kafka.keystore.p12       both as the PKCS#12 keystore the broker reads
#   keystore_password        its random password (read by deploy/kafka/start.sh)
# Usage: sh deploy/kafka/make-certs.sh [days]     (needs openssl; run again to renew: the old files
# are replaced; restart the kafka service afterwards). A site with its own CA signs kafka.csr instead.
set -eu
cd "$(dirname "$0")"
days="${1:-825}"
out=secrets
mkdir -p "$out"
chmod 755 "$out"
umask 077

openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days "$days" -subj "/CN=onceonly kafka CA" \
  -keyout "$out/ca.key" -out "$out/ca.pem"
openssl req -newkey rsa:3072 -sha256 -nodes -subj "/CN=kafka" -keyout "$out/kafka.key" -out "$out/kafka.csr"
printf 'subjectAltName=DNS:kafka,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > "$out/kafka.ext"
openssl x509 -req -sha256 -days "$days" -in "$out/kafka.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" \
  -CAcreateserial -extfile "$out/kafka.ext" -out "$out/kafka.pem"
openssl rand -hex 24 > "$out/keystore_password"
openssl pkcs12 -export -in "$out/kafka.pem" -inkey "$out/kafka.key" -certfile "$out/ca.pem" -name kafka \
  -passout "file:$out/keystore_password" -out "$out/kafka.keystore.p12"
rm -f "$out/kafka.csr" "$out/kafka.ext" "$out/ca.srl"

# The broker runs as another user inside its container: it must read the keystore and its password;
# the clients read ca.pem. The CA's and the broker's private keys stay readable by their owner only.
chmod 644 "$out/ca.pem" "$out/kafka.pem" "$out/kafka.keystore.p12" "$out/keystore_password"
chmod 600 "$out/ca.key" "$out/kafka.key"
echo "wrote $(cd "$out" && pwd): ca.pem (clients trust it), kafka.keystore.p12 (the broker's), keystore_password"
