#!/bin/sh
# The kafka-init service (docker-compose.yml): SCRAM users and one set of ACLs per principal, as the
# admin. The broker refuses whatever no ACL allows (allow.everyone.if.no.acl.found=false).
#   onceonly-hub         the hub's services: its own topics and consumer groups (prefix "onceonly"),
#                        reads housing.changes
#   dept-<department>    one per department in config/grants.yaml whose password is set: reads
#                        profiles.published (shared fields only, no clear ID number) in its own groups
#   housing-registry     housing's system, when it publishes to this cluster: writes housing.changes
# Idempotent: a second run changes the passwords to the current ones and adds nothing twice.
set -eu
: "${KAFKA_ADMIN_PASSWORD:?}" "${ONCEONLY_KAFKA_SASL_PASSWORD:?}"
bin="${KAFKA_BIN:-/opt/kafka/bin}"
server="${KAFKA_SERVER:-kafka:9092}"
work="${KAFKA_WORK:-/tmp}"
umask 077
cat > "$work/admin.properties" <<PROPERTIES
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=${KAFKA_CA:-/etc/kafka/secrets/ca.pem}
PROPERTIES
admin="--bootstrap-server $server --command-config $work/admin.properties"

user() {  # user NAME PASSWORD
  $bin/kafka-configs.sh $admin --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]"
}
allow() {  # allow PRINCIPAL OPERATIONS... -- RESOURCE ARGUMENTS...
  principal="$1"; shift
  ops=""
  while [ "$1" != "--" ]; do ops="$ops --operation $1"; shift; done
  shift
  $bin/kafka-acls.sh $admin --add --allow-principal "User:$principal" $ops "$@"
}

hub="${ONCEONLY_KAFKA_SASL_USERNAME:-onceonly-hub}"
user "$hub" "$ONCEONLY_KAFKA_SASL_PASSWORD"
for topic in records deadletter profile-events places objections profiles.published audit.checkpoints; do
  allow "$hub" Read Write Create Describe DescribeConfigs -- --topic "$topic"
done
allow "$hub" Read Write Create Describe DescribeConfigs -- --topic raw. --resource-pattern-type prefixed
allow "$hub" Read Write Create Describe DescribeConfigs -- --topic onceonly --resource-pattern-type prefixed  # faust's
allow "$hub" Read Describe -- --topic housing.changes
allow "$hub" Read Describe Delete -- --group onceonly --resource-pattern-type prefixed
allow "$hub" Create Describe DescribeConfigs IdempotentWrite -- --cluster

for department in civil_affairs social_security housing community; do
  variable="KAFKA_$(echo "$department" | tr '[:lower:]' '[:upper:]')_PASSWORD"
  password="$(printenv "$variable" || true)"
  [ -n "$password" ] || { echo "no $variable: no Kafka user for $department"; continue; }
  user "dept-$department" "$password"
  allow "dept-$department" Read Describe -- --topic profiles.published
  allow "dept-$department" Read -- --group "dept-$department" --resource-pattern-type prefixed
done

if [ -n "${KAFKA_HOUSING_REGISTRY_PASSWORD:-}" ]; then
  user housing-registry "$KAFKA_HOUSING_REGISTRY_PASSWORD"
  allow housing-registry Write Create Describe -- --topic housing.changes
fi
$bin/kafka-acls.sh $admin --list
