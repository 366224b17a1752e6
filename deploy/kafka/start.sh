#!/bin/sh
# The kafka service's entrypoint (docker-compose.yml): one KRaft node whose only client listener is
# SASL_SSL with SCRAM-SHA-512, an authorizer that refuses whatever no ACL allows, and the admin user
# (the only super user there) created when the storage is formatted. The controller listener is
# plaintext on the container's loopback only: no other container can reach it.
# The paths and ports default to the container's; tests/integration/test_kafka_sasl_ssl.py runs this
# same script on the loopback with other ones.
set -eu
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD}"
bin="${KAFKA_BIN:-/opt/kafka/bin}"
secrets="${KAFKA_SECRETS:-/etc/kafka/secrets}"
data="${KAFKA_DATA:-/var/lib/kafka/data}"
work="${KAFKA_WORK:-/tmp}"
host="${KAFKA_ADVERTISED_HOST:-kafka}"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-9093}"
keystore_password="$(cat "$secrets/keystore_password")"
config="$work/server.properties"
umask 077

cat > "$config" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:${controller_port}
controller.listener.names=CONTROLLER
listeners=SASL_SSL://:${port},CONTROLLER://localhost:${controller_port}
advertised.listeners=SASL_SSL://${host}:${port}
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
ssl.keystore.type=PKCS12
ssl.keystore.location=${secrets}/kafka.keystore.p12
ssl.keystore.password=${keystore_password}
# the broker is its own client between listeners: it trusts the same CA as every client
ssl.truststore.type=PEM
ssl.truststore.location=${secrets}/ca.pem
ssl.endpoint.identification.algorithm=https
ssl.enabled.protocols=TLSv1.3,TLSv1.2
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# admin: the broker itself and deploy/kafka/init-acls.sh; ANONYMOUS: the loopback controller listener
super.users=User:admin;User:ANONYMOUS
log.dirs=${data}
num.partitions=8
log.retention.hours=-1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPERTIES

# The admin's client settings, for the healthcheck and the init service's tools.
cat > "$work/admin.properties" <<PROPERTIES
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=${secrets}/ca.pem
PROPERTIES

if [ ! -f "$data/meta.properties" ]; then
  "$bin/kafka-storage.sh" format --config "$config" --cluster-id "$("$bin/kafka-storage.sh" random-uuid)" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]"
fi
exec "$bin/kafka-server-start.sh" "$config"
