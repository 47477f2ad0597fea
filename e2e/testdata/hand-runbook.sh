#!/usr/bin/env bash
# The hand runbook an operator scripts with dig and nsupdate for the seeds'
# safe order (insecure window): lower the TTLs at both hosts, wait the
# largest, remove the DS, wait, switch the delegation, wait, add the new
# host's DS, wait, restore the TTLs. Each change is sent to the primary and
# checked there with dig; each wait is the TTL dig shows, no margin, one
# step after another. BenchmarkHandRunbook times it against `migrate apply`
# in the same lab.
#
# Environment: ZONE, LOWER_TO (seconds), TLD, OLD, NEW (host:port of the
# registrar's primary and of each host's primary), NEW_NS (space-separated
# names), and REG_KEY, OLD_KEY, NEW_KEY as "name:secret-file".
set -euo pipefail

PARENT=${ZONE#*.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log() { echo "$(date -u +%T.%3N) $*"; }

# keyfile name:secret-file -> an nsupdate/dig key file (mode 600).
keyfile() {
	local name=${1%%:*} file=${1#*:}
	umask 077
	printf 'key "%s" { algorithm hmac-sha256; secret "%s"; };\n' "$name" "$(cat "$file")" >"$tmp/$name.key"
	echo "$tmp/$name.key"
}
reg_key=$(keyfile "$REG_KEY")
old_key=$(keyfile "$OLD_KEY")
new_key=$(keyfile "$NEW_KEY")

q() { # q server args...: dig at host:port
	local s=$1
	shift
	dig +time=2 +tries=2 -p "${s##*:}" @"${s%:*}" "$@"
}

# records server key: the zone's records by AXFR, without the signer's.
records() {
	q "$1" -k "$2" +noall +answer +nottlunits "$ZONE" AXFR |
		awk '$4 !~ /^(RRSIG|NSEC|NSEC3|NSEC3PARAM|DNSKEY|CDS|CDNSKEY|SOA|TYPE65534)$/' | sort -u
}

# update server key file [zone]: sends the nsupdate commands in file to
# zone (default ZONE; the registrar's is the parent).
update() {
	{
		echo "server ${1%:*} ${1##*:}"
		echo "zone ${4:-$ZONE}"
		cat "$3"
		echo send
	} | nsupdate -k "$2"
}

# set_ttls server key [saved]: each record above LOWER_TO goes down to it
# (or, given the records saved before, each goes back to its saved TTL),
# deleted by its exact data and added back at its new TTL (a CNAME only
# added: deleting it drops it at Knot), in one message.
set_ttls() {
	local out=$tmp/update
	records "$1" "$2" | awk -v lower="$LOWER_TO" -v saved="${3:-}" '
		BEGIN { if (saved != "") while ((getline line < saved) > 0) { split(line, f); was[f[1] " " f[4]] = f[2] } }
		{
			data = ""
			for (i = 5; i <= NF; i++) data = data " " $i
			new = ""
			if (saved == "" && $2 > lower) new = lower
			if (saved != "" && ($1 " " $4) in was && was[$1 " " $4] != $2) new = was[$1 " " $4]
			if (new == "") next
			if ($4 != "CNAME") print "update delete " $1 " " $4 data
			print "update add " $1 " " new " " $3 " " $4 data
		}' >"$out"
	if [ -s "$out" ]; then update "$1" "$2" "$out"; fi
	log "TTLs set at $1 ($(grep -c 'update add' "$out" || true) records)"
}

# max_ttl server key: the largest TTL of the zone's records.
max_ttl() { records "$1" "$2" | awk '$2 > m { m = $2 } END { print m + 0 }'; }

# ttl_of server name type: the TTL the server answers with (0: none).
ttl_of() { q "$1" +noall +answer +nottlunits "$2" "$3" | awk '{ print $2; exit }' | grep . || echo 0; }

# until_empty server name type: dig until the server serves no such record.
until_empty() { while [ -n "$(q "$1" +short "$2" "$3")" ]; do sleep 0.2; done; }

# 1. Lower every TTL above LOWER_TO at both hosts, remembering each.
records "$OLD" "$old_key" >"$tmp/old.before"
records "$NEW" "$new_key" >"$tmp/new.before"
wait_ttl=$(max_ttl "$OLD" "$old_key")
set_ttls "$OLD" "$old_key"
set_ttls "$NEW" "$new_key"
log "wait $wait_ttl s: the largest TTL at the old host"
sleep "$wait_ttl"

# 2. Remove the DS; wait out the DS and the old DNSKEY set.
ds_ttl=$(ttl_of "$TLD" "$ZONE" DS)
dnskey_ttl=$(ttl_of "$OLD" "$ZONE" DNSKEY)
echo "update delete $ZONE DS" >"$tmp/ds"
update "$TLD" "$reg_key" "$tmp/ds" "$PARENT"
until_empty "$TLD" "$ZONE" DS
log "DS removed; wait $((ds_ttl + dnskey_ttl)) s: DS TTL + DNSKEY TTL"
sleep $((ds_ttl + dnskey_ttl))

# 3. Switch the delegation; wait out the parent's NS and the lowered apex NS.
ns_ttl=$(q "$TLD" +norec +noall +authority +nottlunits "$ZONE" NS | awk '{ print $2; exit }')
{
	echo "update delete $ZONE NS"
	for n in $NEW_NS; do echo "update add $ZONE $ns_ttl NS $n"; done
} >"$tmp/ns"
update "$TLD" "$reg_key" "$tmp/ns" "$PARENT"
until [ "$(q "$TLD" +norec +noall +authority "$ZONE" NS | awk '{ print $5 }' | sort | xargs)" = "$(echo "$NEW_NS" | tr ' ' '\n' | sort | xargs)" ]; do sleep 0.2; done
log "delegated to $NEW_NS; wait $((ns_ttl + LOWER_TO)) s: parent NS TTL + lowered apex NS TTL"
sleep $((ns_ttl + LOWER_TO))

# 4. Add the DS of the new host's KSK; wait out the DS.
q "$NEW" +noall +answer "$ZONE" DNSKEY | dnssec-dsfromkey -2 -f - "$ZONE" | awk -v ttl="$ds_ttl" '{ $2 = ttl " " $2; print "update add " $0 }' >"$tmp/ds"
update "$TLD" "$reg_key" "$tmp/ds" "$PARENT"
while [ -z "$(q "$TLD" +short "$ZONE" DS)" ]; do sleep 0.2; done
new_dnskey_ttl=$(ttl_of "$NEW" "$ZONE" DNSKEY)
log "DS added; wait $((ds_ttl + new_dnskey_ttl)) s: DS TTL + new DNSKEY TTL"
sleep $((ds_ttl + new_dnskey_ttl))

# 5. Restore each TTL as it was.
set_ttls "$OLD" "$old_key" "$tmp/old.before"
set_ttls "$NEW" "$new_key" "$tmp/new.before"
log "done"
