#!/usr/bin/python3
"""Checks docs/manypaths.schema.json against the example configs and against hand-made good and bad configs.

    /usr/bin/python3 tests/schema/validate.py                       # schema only (python3-yaml, python3-jsonschema)
    /usr/bin/python3 tests/schema/validate.py --reader src/Manypaths/bin/Debug/net10.0/manypaths.dll

1. Every examples/*.yaml must be valid for the schema.
2. Every case below must get the schema's expected verdict; a rejected case must be rejected at the expected place
   (the JSON path of the error), so a typo in a case cannot pass for the right reason.
3. With --reader, every example and case also goes through `dotnet DLL check`, and the real config reader must give
   the verdict recorded for it (the same as the schema's, except for the few documented differences).

Prints one line per check and exits 1 if any check fails.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import yaml
from jsonschema import Draft202012Validator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "docs", "manypaths.schema.json")

# A small valid config; each case changes one line of it.
BASE = """\
cluster:
  name: t
  secret_file: cluster.key
  shutdown_grace: 10s
nodes:
  blr: { admin: http://127.0.0.1:7501, region: in-south, mesh: http://10.250.0.1:7401 }
  del: { admin: http://127.0.0.1:7503, region: in-north, mesh: http://10.250.0.2:7401 }
services:
  web:
    mode: http
    listen: 127.0.0.1:8080
    upstreams:
      - { name: a, url: http://127.0.0.1:9001, weight: 2 }
      - { name: b, url: http://127.0.0.1:9002, tier: backup }
    health: { path: /healthz, interval: 2s, timeout: 1s }
    passive: { eject: 5s }
    retry_on: "502-504"
    max_replay_body: 64KiB
    sorry: { retry_after: 30s }
    forwarded: { via: true }
    http_version: "1.1"
    hedge: { delay: auto }
listeners:
  app:
    listen: 127.0.0.1:8090
    routes:
      - { path: /, service: web }
alerts:
  webhooks:
    - { url: http://127.0.0.1:9900/hook }
"""

# The same with two mode: tcp services added (the tcp services contract): tcp_variant() changes one line of it.
TCP_SERVICES = """\
  cache:
    mode: tcp
    listen: 127.0.0.1:6380
    upstreams:
      - { name: r1, address: 127.0.0.1:7001 }
      - { name: r2, address: "[::1]:7002" }
      - { name: r3, address: db3.internal:7003 }
    health: { check: redis-primary, interval: 250ms, timeout: 200ms, rise: 1, fall: 2 }
    on_demotion: close
    sentinels: { master: mymaster, addresses: [127.0.0.1:26379, 127.0.0.1:26380], password_file: sentinel.pw }
    limits: { max_connections: 10000, max_per_client: 1000 }
    timeouts: { connect: 5s, idle: 1h }
  cache-read:
    mode: tcp
    listen: 127.0.0.1:6381
    upstreams:
      - { name: r1, address: 127.0.0.1:7001 }
      - { name: r2, address: 127.0.0.1:7002 }
    health: { check: redis-replica, max_lag: 1MB }
    on_demotion: grace:5s
"""
TCP = BASE.replace("listeners:\n", TCP_SERVICES + "listeners:\n", 1)

# The same with the DNS contract added (docs/design/dns.md): a third node, cluster.quorum, a service 'control' whose
# upstreams have IPv4 DNS addresses (an IP literal host, or dns_address for a host name) and the 'dns' section;
# dns_variant() changes one line of it. Records of zone example.test: 0 NS @, 1 ns1, 2 www, 3 api, 4 near, 5 all, 6 fixed.
DNS_NODE = "  maa: { admin: http://127.0.0.1:7502, region: us-east, mesh: http://10.250.0.3:7401 }\n"
DNS_SERVICE = """\
  control:
    listen: 127.0.0.1:8085
    upstreams:
      - { name: c1, url: http://127.0.0.1:9101, region: us-east }
      - { name: c2, url: http://127.0.0.2:9102, region: eu-west, tier: backup }
      - { name: c3, url: http://c3.internal:9103, region: eu-west, dns_address: 192.0.2.7 }
"""
DNS_SECTION = """\
dns:
  listen: { blr: 127.0.0.1:5301, maa: 127.0.0.1:5302, del: 127.0.0.1:5303 }
  quorum: 50%
  zones:
    example.test:
      ttl: 20s
      records:
        - { name: "@", type: NS, values: [ns1.example.test., ns2.example.test.] }
        - { name: ns1, type: A, values: [127.0.0.1] }
        - { name: www, type: A, policy: failover, service: control }
        - { name: api, type: A, policy: weighted, service: control, answers: 1 }
        - { name: near, type: A, policy: latency, service: control, clients: { 127.0.0.0/24: us-east, 127.0.1.0/24: eu-west } }
        - { name: all, type: A, policy: multivalue, service: control, answers: 8 }
        - { name: fixed, type: TXT, values: ["v=1"] }
"""
DNS = (BASE.replace("  shutdown_grace: 10s\n", "  shutdown_grace: 10s\n  quorum: 50%\n", 1)
       .replace("nodes:\n", "nodes:\n" + DNS_NODE, 1)
       .replace("listeners:\n", DNS_SERVICE + "listeners:\n", 1)) + DNS_SECTION

# Files that cases name and that the reader requires to exist (written next to each case file).
FILES = ("cluster.key", "admin.token", "sentinel.pw", "pg.pw", "slack.url")

VALID = "valid"
ANY = "either"  # the reader's verdict is printed, not asserted


def variant(old, new):
    """BASE with the first occurrence of `old` replaced by `new` (which must be there: cases must not rot)."""
    if old not in BASE:
        raise AssertionError(f"case refers to {old!r}, which BASE no longer contains")
    return BASE.replace(old, new, 1)


def tcp_variant(*pairs):
    """TCP with each (old, new) pair replaced once, in order (each `old` must be there)."""
    text = TCP
    for old, new in zip(pairs[::2], pairs[1::2]):
        if old not in text:
            raise AssertionError(f"case refers to {old!r}, which TCP no longer contains")
        text = text.replace(old, new, 1)
    return text


def dns_variant(*pairs):
    """DNS with each (old, new) pair replaced once, in order (each `old` must be there)."""
    text = DNS
    for old, new in zip(pairs[::2], pairs[1::2]):
        if old not in text:
            raise AssertionError(f"case refers to {old!r}, which DNS no longer contains")
        text = text.replace(old, new, 1)
    return text


def record(i, *path):
    return ("dns", "zones", "example.test", "records", i) + tuple(path)


def svc(path):
    return ("services", "web") + tuple(path)


def cache(path):
    return ("services", "cache") + tuple(path)


def cache_read(path):
    return ("services", "cache-read") + tuple(path)


# (name, yaml, schema verdict: VALID or the JSON path where an error must be reported, reader verdict if different)
CASES = [
    # --- configs that must be accepted
    ("base config", BASE, VALID),
    ("per-node listen map", variant("listen: 127.0.0.1:8080", "listen: { blr: 127.0.0.1:8081, del: 127.0.0.1:8082 }"), VALID),
    ("listen on all interfaces ('*:port', quoted)", variant("listen: 127.0.0.1:8080", 'listen: "*:8080"'), VALID),
    ("listen on [::1]", variant("listen: 127.0.0.1:8080", 'listen: "[::1]:8080"'), VALID),
    ("listen on localhost", variant("listen: 127.0.0.1:8080", "listen: localhost:8080"), VALID),
    ("http_version 2 as a YAML number", variant('http_version: "1.1"', "http_version: 2"), VALID),
    ("http_version 1.1 as a YAML number", variant('http_version: "1.1"', "http_version: 1.1"), VALID),
    ("duration 0", variant("shutdown_grace: 10s", "shutdown_grace: 0"), VALID),
    ("fractional duration", variant("shutdown_grace: 10s", "shutdown_grace: 1.5m"), VALID),
    ("size as plain bytes", variant("max_replay_body: 64KiB", "max_replay_body: 65536"), VALID),
    ("size unit in lower case", variant("max_replay_body: 64KiB", "max_replay_body: 1mib"), VALID),
    ("status list mixing numbers and ranges", variant('retry_on: "502-504"', 'retry_on: [502, "503-504"]'), VALID),
    ("numeric tier", variant("tier: backup", "tier: 7"), VALID),
    ("bool written as yes", variant("forwarded: { via: true }", "forwarded: { via: no }"), VALID),
    ("hedge delay as a duration", variant("hedge: { delay: auto }", "hedge: { delay: 250ms, max_attempts: 3 }"), VALID),

    # --- unknown keys
    ("unknown top-level key", BASE + "servics: {}\n", ()),
    ("unknown service key", variant("    mode: http\n", "    mode: http\n    retrys: 2\n"), svc([])),
    ("unknown upstream key", variant("weight: 2 }", "wieght: 2 }"), svc(["upstreams", 0])),
    ("unknown health key", variant("interval: 2s,", "intervall: 2s,"), svc(["health"])),
    ("unknown cluster key", variant("  name: t\n", "  name: t\n  secret: x\n"), ("cluster",)),
    ("unknown route key", variant("{ path: /, service: web }", "{ prefix: /, service: web }"), ("listeners", "app", "routes", 0)),

    # --- durations
    ("duration with a word unit", variant("interval: 2s", "interval: 2 seconds"), svc(["health", "interval"])),
    ("duration without a unit", variant("timeout: 1s", "timeout: 500"), svc(["health", "timeout"])),
    ("compound duration", variant("shutdown_grace: 10s", "shutdown_grace: 1m30s"), ("cluster", "shutdown_grace")),
    ("negative duration", variant("retry_after: 30s", "retry_after: -5s"), svc(["sorry", "retry_after"])),
    ("duration unit in upper case", variant("eject: 5s", "eject: 5S"), svc(["passive", "eject"])),
    ("hedge delay neither auto nor a duration", variant("delay: auto", "delay: fast"), svc(["hedge", "delay"])),

    # --- tiers
    ("tier that is not primary/backup", variant("tier: backup", "tier: standby"), svc(["upstreams", 1, "tier"])),
    ("tier above 100", variant("tier: backup", "tier: 101"), svc(["upstreams", 1, "tier"])),
    ("negative tier", variant("tier: backup", "tier: -1"), svc(["upstreams", 1, "tier"])),
    ("only backup upstreams", variant("weight: 2 }", "weight: 2, tier: backup }"), svc(["upstreams"])),

    # --- listen addresses
    ("listen address without a host", variant("listen: 127.0.0.1:8080", "listen: 8080"), svc(["listen"])),
    ("listen port out of range", variant("listen: 127.0.0.1:8080", "listen: 127.0.0.1:70000"), svc(["listen"])),
    ("listen port 0", variant("listen: 127.0.0.1:8080", "listen: 127.0.0.1:0"), svc(["listen"])),
    ("listen on a host name", variant("listen: 127.0.0.1:8080", "listen: example.com:80"), svc(["listen"])),
    ("per-node listen without a port", variant("listen: 127.0.0.1:8080", "listen: { blr: 127.0.0.1 }"), svc(["listen"])),
    ("listener listen as a URL", variant("listen: 127.0.0.1:8090", "listen: http://127.0.0.1:8090"), ("listeners", "app", "listen")),

    # --- other values
    ("size with a rate unit", variant("max_replay_body: 64KiB", "max_replay_body: 64 KB/s"), svc(["max_replay_body"])),
    ("status out of range", variant('retry_on: "502-504"', "retry_on: 600"), svc(["retry_on"])),
    ("http_version 3", variant('http_version: "1.1"', 'http_version: "3"'), svc(["http_version"])),
    ("mode udp", variant("mode: http", "mode: udp"), svc(["mode"])),
    ("bool that is not a bool", variant("forwarded: { via: true }", "forwarded: { via: maybe }"), svc(["forwarded", "via"])),
    ("weight 0", variant("weight: 2", "weight: 0"), svc(["upstreams", 0, "weight"])),
    ("empty upstream list", variant("    upstreams:\n      - { name: a, url: http://127.0.0.1:9001, weight: 2 }\n      - { name: b, url: http://127.0.0.1:9002, tier: backup }\n", "    upstreams: []\n"), svc(["upstreams"])),
    ("upstream without a url", variant("{ name: a, url: http://127.0.0.1:9001, weight: 2 }", "{ name: a, weight: 2 }"), svc(["upstreams", 0])),
    ("upstream url that is not http", variant("url: http://127.0.0.1:9001", "url: tcp://127.0.0.1:9001"), svc(["upstreams", 0, "url"])),
    ("bad upstream name", variant("name: a,", "name: a.1,"), svc(["upstreams", 0, "name"])),
    ("bad node name", variant("  del: {", "  del.1: {"), ("nodes",)),
    ("node without admin", variant("del: { admin: http://127.0.0.1:7503, region: in-north,", "del: { region: in-north,"), ("nodes", "del")),
    ("two nodes and no secret_file", variant("  secret_file: cluster.key\n", ""), ("cluster",)),
    ("health path without a leading slash", variant("path: /healthz", "path: healthz"), svc(["health", "path"])),
    ("route path without a leading slash", variant("{ path: /, service: web }", "{ path: api, service: web }"), ("listeners", "app", "routes", 0, "path")),
    ("listener without routes", variant("    routes:\n      - { path: /, service: web }\n", ""), ("listeners", "app")),
    ("webhook that is not http", variant("url: http://127.0.0.1:9900/hook", "url: ftp://127.0.0.1/hook"), ("alerts", "webhooks", 0, "url")),
    ("status and alerts: the contract (data_dir, retention, hold, group, a json url and a slack url_file)",
     variant("alerts:\n  webhooks:\n", "status:\n  title: Acme status\n  public: false\n  data_dir: /var/lib/manypaths\n  retention: 90d\n"
             "alerts:\n  hold: 5s\n  group: 2s\n  webhooks:\n    - { url_file: slack.url, format: slack }\n"), VALID),
    ("webhook with both url and url_file", variant("url: http://127.0.0.1:9900/hook", "url: http://127.0.0.1:9900/hook, url_file: slack.url"), ("alerts", "webhooks", 0)),
    ("webhook format teams", variant("url: http://127.0.0.1:9900/hook", "url: http://127.0.0.1:9900/hook, format: teams"), ("alerts", "webhooks", 0, "format")),
    ("no services at all", "status: { title: nothing to serve }\n", ()),

    # --- mode: tcp services
    ("tcp services: the contract example (redis primary with sentinels, redis replica with max_lag and grace)", TCP, VALID),
    ("tcp per-node listen map", tcp_variant("listen: 127.0.0.1:6380", "listen: { blr: 127.0.0.1:6380, del: 127.0.0.1:6382 }"), VALID),
    ("tcp with the default check (a connect) and no sentinels",
     tcp_variant("    health: { check: redis-primary, interval: 250ms, timeout: 200ms, rise: 1, fall: 2 }\n", "",
                 "    sentinels: { master: mymaster, addresses: [127.0.0.1:26379, 127.0.0.1:26380], password_file: sentinel.pw }\n", ""), VALID),
    ("postgres standby with user, password_file, database and max_lag in bytes",
     tcp_variant("{ check: redis-replica, max_lag: 1MB }", "{ check: postgres-standby, user: monitor, password_file: pg.pw, database: app, max_lag: 65536 }"), VALID),
    ("mysql-replica without max_lag, grace on demotion", tcp_variant("{ check: redis-replica, max_lag: 1MB }", "{ check: mysql-replica, user: monitor }"), VALID),
    ("mode tcp with an http service's keys and url upstreams", variant("mode: http", "mode: tcp"), svc(["hedge"])),
    ("url on a tcp upstream", tcp_variant("{ name: r1, address: 127.0.0.1:7001 }", "{ name: r1, url: http://127.0.0.1:7001 }"), cache(["upstreams", 0, "url"])),
    ("address on an http upstream", variant("{ name: a, url: http://127.0.0.1:9001, weight: 2 }", "{ name: a, address: 127.0.0.1:9001, weight: 2 }"), svc(["upstreams", 0, "address"])),
    ("tcp address without a port", tcp_variant("address: 127.0.0.1:7001", "address: 127.0.0.1"), cache(["upstreams", 0, "address"])),
    ("tcp address written as a URL", tcp_variant("address: 127.0.0.1:7001", "address: tcp://127.0.0.1:7001"), cache(["upstreams", 0, "address"])),
    ("unknown check", tcp_variant("check: redis-primary", "check: redis-master"), cache(["health", "check"])),
    ("check: http on a tcp service", tcp_variant("check: redis-primary", "check: http"), cache(["health", "check"])),
    ("role check on an http service", variant("health: { path: /healthz,", "health: { check: redis-primary,"), svc(["health", "check"])),
    ("health path on a tcp service", tcp_variant("check: redis-primary,", "check: redis-primary, path: /healthz,"), cache(["health", "path"])),
    ("hedge on a tcp service", tcp_variant("    on_demotion: close\n", "    on_demotion: close\n    hedge: { delay: auto }\n"), cache(["hedge"])),
    ("retries on a tcp service", tcp_variant("    on_demotion: close\n", "    on_demotion: close\n    retries: 2\n"), cache(["retries"])),
    ("limits on an http service", variant('    http_version: "1.1"\n', '    http_version: "1.1"\n    limits: { max_connections: 100 }\n'), svc(["limits"])),
    ("on_demotion on an http service", variant('    http_version: "1.1"\n', '    http_version: "1.1"\n    on_demotion: close\n'), svc(["on_demotion"])),
    ("request timeout on a tcp service", tcp_variant("timeouts: { connect: 5s, idle: 1h }", "timeouts: { connect: 5s, request: 30s }"), cache(["timeouts", "request"])),
    ("grace on demotion on a primary service", tcp_variant("on_demotion: close", "on_demotion: grace:5s"), cache(["on_demotion"])),
    ("on_demotion neither close nor grace", tcp_variant("on_demotion: close", "on_demotion: drain"), cache(["on_demotion"])),
    ("max_lag on mysql-replica", tcp_variant("check: redis-replica, max_lag: 1MB", "check: mysql-replica, max_lag: 1MB"), cache_read(["health", "max_lag"])),
    ("max_lag on a primary check", tcp_variant("rise: 1, fall: 2 }", "rise: 1, fall: 2, max_lag: 1MB }"), cache(["health", "max_lag"])),
    ("max_lag as a duration", tcp_variant("max_lag: 1MB", "max_lag: 10s"), cache_read(["health", "max_lag"])),
    ("database on a redis check", tcp_variant("max_lag: 1MB }", "max_lag: 1MB, database: app }"), cache_read(["health", "database"])),
    ("password written inline", tcp_variant("max_lag: 1MB }", "max_lag: 1MB, password: hunter2 }"), cache_read(["health"])),
    ("user on check: tcp", tcp_variant("check: redis-primary, interval: 250ms, timeout: 200ms, rise: 1, fall: 2 }", "check: tcp, user: monitor }",
                                      "    sentinels: { master: mymaster, addresses: [127.0.0.1:26379, 127.0.0.1:26380], password_file: sentinel.pw }\n", ""), cache(["health", "user"])),
    ("sentinels on a postgres service", tcp_variant("check: redis-primary", "check: postgres-primary"), cache(["sentinels"])),
    ("sentinels without a master", tcp_variant("{ master: mymaster, addresses:", "{ addresses:"), cache(["sentinels"])),
    ("max_connections 0", tcp_variant("max_connections: 10000", "max_connections: 0"), cache(["limits", "max_connections"])),

    # --- dns: health-aware authoritative DNS (docs/design/dns.md)
    ("dns: the contract example (cluster.quorum, listen per node, static and failover/weighted/latency/multivalue records)", DNS, VALID),
    ("dns: one listen address, quorum as a number, a record ttl and a type in lower case",
     dns_variant("listen: { blr: 127.0.0.1:5301, maa: 127.0.0.1:5302, del: 127.0.0.1:5303 }", "listen: 127.0.0.1:5301",
                 "  quorum: 50%\n  zones:", "  quorum: 0.75\n  zones:",
                 "type: TXT, values:", "type: txt, ttl: 5s, values:"), VALID),
    ("dns: a value of every static type",
     dns_variant('        - { name: fixed, type: TXT, values: ["v=1"] }\n',
                 '        - { name: fixed, type: TXT, values: "v=1" }\n'
                 '        - { name: "@", type: SOA, values: ["ns1.example.test. admin.example.test. 1 3600 600 86400 20"] }\n'
                 '        - { name: mail, type: MX, values: ["10 mx.example.test."] }\n'
                 '        - { name: _https._tcp, type: SRV, values: ["10 5 443 www.example.test."] }\n'
                 '        - { name: alias, type: CNAME, values: [www.example.test.] }\n'
                 '        - { name: deep.wild, type: AAAA, values: ["2001:db8::1", "::1"] }\n'), VALID),
    ("dns: wildcard records, static and health-aware (RFC 4592)",
     dns_variant('        - { name: fixed, type: TXT, values: ["v=1"] }\n',
                 '        - { name: fixed, type: TXT, values: ["v=1"] }\n'
                 '        - { name: "*", type: TXT, values: ["any"] }\n'
                 '        - { name: "*.dev", type: A, policy: failover, service: control }\n'), VALID),
    ("dns: a wildcard that is not a whole label", dns_variant("{ name: fixed,", '{ name: "f*",'), record(6, "name")),
    ("dns: an AAAA policy record over upstreams with IPv6 addresses (a literal host, or dns_address)",
     dns_variant("listeners:\n", "  v6:\n    listen: 127.0.0.1:8086\n    upstreams:\n      - { name: a, url: \"http://[::1]:9201\" }\n"
                 "      - { name: b, url: http://b.internal:9202, dns_address: \"2001:db8::2\" }\nlisteners:\n",
                 "        - { name: fixed,", "        - { name: six, type: AAAA, policy: multivalue, service: v6 }\n        - { name: fixed,"), VALID),
    ("dns: cluster.quorum 100% and no dns.quorum", dns_variant("  quorum: 50%\n  zones:", "  zones:", "  quorum: 50%\n", "  quorum: 100%\n"), VALID),
    ("dns: a policy record of type CNAME", dns_variant("name: www, type: A,", "name: www, type: CNAME,"), record(2, "type")),
    ("dns: values on a policy record", dns_variant("policy: failover, service: control }", "policy: failover, service: control, values: [127.0.0.1] }"), record(2, "values")),
    ("dns: a policy record without a service", dns_variant("policy: weighted, service: control, answers: 1 }", "policy: weighted, answers: 1 }"), record(3)),
    ("dns: an unknown policy", dns_variant("policy: failover", "policy: geo"), record(2, "policy")),
    ("dns: clients on a multivalue record", dns_variant("service: control, answers: 8 }", "service: control, answers: 8, clients: { 127.0.0.0/24: us-east } }"), record(5, "clients")),
    ("dns: clients on a static record", dns_variant('values: ["v=1"] }', 'values: ["v=1"], clients: { 10.250.0.0/16: x } }'), record(6, "clients")),
    ("dns: answers on a static record", dns_variant('values: ["v=1"] }', 'values: ["v=1"], answers: 2 }'), record(6, "answers")),
    ("dns: a static record without values", dns_variant("{ name: ns1, type: A, values: [127.0.0.1] }", "{ name: ns1, type: A }"), record(1)),
    ("dns: a zone without an NS record at \"@\"", dns_variant('        - { name: "@", type: NS, values: [ns1.example.test., ns2.example.test.] }\n', ""), ("dns", "zones", "example.test", "records")),
    ("dns: an NS record that is not at the apex only", dns_variant('{ name: "@", type: NS,', '{ name: sub, type: NS,'), ("dns", "zones", "example.test", "records")),
    ("dns: an A value that is an IPv6 address", dns_variant("values: [127.0.0.1]", 'values: ["::1"]'), record(1, "values")),
    ("dns: an AAAA value that is an IPv4 address", dns_variant("{ name: ns1, type: A,", "{ name: ns1, type: AAAA,"), record(1, "values")),
    ("dns: an MX value without a preference", dns_variant('type: TXT, values: ["v=1"]', "type: MX, values: [mx.example.test.]"), record(6, "values")),
    ("dns: an SRV value without a port", dns_variant('type: TXT, values: ["v=1"]', 'type: SRV, values: ["10 5 www.example.test."]'), record(6, "values")),
    ("dns: an SOA value with 5 fields", dns_variant('type: TXT, values: ["v=1"]', 'type: SOA, values: ["ns1.example.test. admin.example.test. 1 3600 600"]'), record(6, "values")),
    ("dns: an NS value that is not a host name", dns_variant("values: [ns1.example.test., ns2.example.test.]", 'values: ["ns1 example"]'), record(0, "values")),
    ("dns: an unknown record type", dns_variant("type: TXT", "type: PTR"), record(6, "type")),
    ("dns: a record without a name", dns_variant("{ name: ns1, type: A,", "{ type: A,"), record(1)),
    ("dns: a misspelt record key", dns_variant('values: ["v=1"]', 'value: ["v=1"]'), record(6)),
    ("dns: answers 65", dns_variant("answers: 8", "answers: 65"), record(5, "answers")),
    ("dns: a client network that is not CIDR", dns_variant("127.0.1.0/24: eu-west", "127.0.1.0/33: eu-west"), record(4, "clients")),
    ("dns: a zone name with a space", dns_variant("    example.test:", "    example test:"), ("dns", "zones")),
    ("dns: quorum above 100%", dns_variant("  quorum: 50%\n  zones:", "  quorum: 150%\n  zones:"), ("dns", "quorum")),
    ("dns: quorum 50 without a percent sign", dns_variant("  quorum: 50%\n  zones:", "  quorum: 50\n  zones:"), ("dns", "quorum")),
    ("dns: quorum that is a word", dns_variant("  quorum: 50%\n  zones:", "  quorum: half\n  zones:"), ("dns", "quorum")),
    ("cluster.quorum 0", dns_variant("  quorum: 50%\n", "  quorum: 0\n"), ("cluster", "quorum")),
    ("dns without listen", dns_variant("  listen: { blr: 127.0.0.1:5301, maa: 127.0.0.1:5302, del: 127.0.0.1:5303 }\n", ""), ("dns",)),
    ("dns without zones", DNS[:DNS.index("  zones:\n")], ("dns",)),
    ("unknown dns key", dns_variant("  quorum: 50%\n  zones:", "  quorum: 50%\n  ttl: 20s\n  zones:"), ("dns",)),
    ("a dns_address that is not an IP address", dns_variant("dns_address: 192.0.2.7", "dns_address: c3.example.test"), ("services", "control", "upstreams", 2, "dns_address")),

    # --- documented differences between the schema and the reader (the reader is the authority)
    ("dns record for an undeclared service (only the reader knows the services)", dns_variant("service: control, answers: 1", "service: contrl, answers: 1"), VALID, "rejected"),
    ("dns policy record over an upstream without an IPv4 address (only the reader knows the upstreams' hosts)", dns_variant(", dns_address: 192.0.2.7 }", " }"), VALID, "rejected"),
    ("dns AAAA policy record over IPv4 upstreams (only the reader knows the upstreams' hosts)", dns_variant("name: www, type: A,", "name: www, type: AAAA,"), VALID, "rejected"),
    ("dns zone ttl under the 1s minimum (not expressible as a pattern)", dns_variant("ttl: 20s", "ttl: 500ms"), VALID, "rejected"),
    ("dns listen map naming an undeclared node (only the reader knows the nodes)", dns_variant("del: 127.0.0.1:5303 }", "bom: 127.0.0.1:5303 }"), VALID, "rejected"),
    ("dns A value 127.1 (both refuse the short form: it hides typos)", dns_variant("values: [127.0.0.1]", "values: [\"127.1\"]"), record(1, "values")),
    ("dns quorum as a quoted number: the reader is more lenient", dns_variant("  quorum: 50%\n  zones:", '  quorum: "0.5"\n  zones:'), ("dns", "quorum"), VALID),
    ("dns empty zones mapping", DNS[:DNS.index("    example.test:\n")].replace("  zones:\n", "  zones: {}\n"), ("dns", "zones")),
    ("dns zone left empty", DNS[:DNS.index("      ttl: 20s\n")], ("dns", "zones", "example.test")),
    ("dns empty values list", dns_variant('values: ["v=1"]', "values: []"), record(6, "values")),
    ("dns listen on a service's address (neither the schema nor the reader checks DNS listen clashes yet)",
     dns_variant("listen: { blr: 127.0.0.1:5301,", "listen: { blr: 127.0.0.1:8080,"), VALID, ANY),
    ("listen map naming an undeclared node (only the reader knows the nodes)", variant("listen: 127.0.0.1:8080", "listen: { bom: 127.0.0.1:8081 }"), VALID, "rejected"),
    ("route to an undeclared service (only the reader knows the services)", variant("{ path: /, service: web }", "{ path: /, service: api }"), VALID, "rejected"),
    ("health interval under the 50ms minimum (not expressible as a pattern)", variant("interval: 2s, timeout: 1s", "interval: 20ms, timeout: 10ms"), VALID, "rejected"),
    ("unbracketed IPv6 listen address: the reader is more lenient", variant("listen: 127.0.0.1:8080", 'listen: "::1:8080"'), svc(["listen"]), VALID),
    ("empty value: the reader treats it as absent", variant("  name: t\n", "  name:\n"), ("cluster", "name"), VALID),
    ("route from a shared listener to a tcp service (only the reader knows the services' modes)",
     tcp_variant("{ path: /, service: web }", "{ path: /, service: cache }"), VALID, "rejected"),
    ("password file that does not exist (only the reader sees files)", tcp_variant("password_file: sentinel.pw", "password_file: nope.pw"), VALID, "rejected"),
    ("unbracketed IPv6 tcp address: the reader is more lenient", tcp_variant('address: "[::1]:7002"', 'address: "::1:7002"'), cache(["upstreams", 1, "address"]), VALID),
    ("empty sentinel address list", tcp_variant("addresses: [127.0.0.1:26379, 127.0.0.1:26380]", "addresses: []"), cache(["sentinels", "addresses"])),
    ("tcp idle timeout under a minute (a tcp service has no 'request' to compare it with)", tcp_variant("idle: 1h", "idle: 30s"), VALID),

    # --- once reader weaknesses, now refused by the reader too (asserted with --reader)
    ("null upstream item", variant("      - { name: b, url: http://127.0.0.1:9002, tier: backup }\n", "      - ~\n").replace("      - { name: a, url: http://127.0.0.1:9001, weight: 2 }\n", ""), svc(["upstreams", 0])),
    ("null route item", variant("      - { path: /, service: web }", "      - ~"), ("listeners", "app", "routes", 0)),
    ("null listener", variant("  app:\n    listen: 127.0.0.1:8090\n    routes:\n      - { path: /, service: web }\n", "  app:\n"), ("listeners", "app")),
    ("empty secret_file with two nodes", variant("secret_file: cluster.key", 'secret_file: ""'), ("cluster", "secret_file")),
    ("empty per-node listen map", variant("listen: 127.0.0.1:8080", "listen: {}"), svc(["listen"])),
    ("duration too large for a TimeSpan (the schema cannot tell)", variant("shutdown_grace: 10s", "shutdown_grace: 99999999999h"), VALID, "rejected"),
]


def schema_errors(validator, doc):
    return sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))


def where(path):
    return "/" + "/".join(map(str, path)) if path else "(top level)"


def run_reader(dll, path):
    """(exit code 0, the first problem line; warnings come first on stderr but are not why a config is refused)."""
    p = subprocess.run(["dotnet", dll, "check", "--config", path], capture_output=True, text=True, timeout=60)
    lines = p.stderr.strip().splitlines()
    problems = [line for line in lines if ": warning: " not in line]
    return p.returncode == 0, (problems or lines or [""])[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reader", metavar="DLL", help="also run `dotnet DLL check` on every example and case")
    args = ap.parse_args()

    with open(SCHEMA, encoding="utf-8") as f:
        import json
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    failures = 0

    def report(ok, text):
        nonlocal failures
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {text}")

    report(True, f"schema {os.path.relpath(SCHEMA, ROOT)} is a valid draft 2020-12 schema")

    examples = sorted(glob.glob(os.path.join(ROOT, "examples", "*.yaml")))
    if not examples:
        report(False, "no examples/*.yaml found")
    for path in examples:
        rel = os.path.relpath(path, ROOT)
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        errs = schema_errors(validator, doc)
        report(not errs, f"example {rel}: " + ("valid" if not errs else "; ".join(f"{where(e.absolute_path)}: {e.message}" for e in errs)))
        if args.reader:
            ok, first = run_reader(args.reader, path)
            report(ok, f"example {rel}: manypaths check " + ("exits 0" if ok else f"rejects it: {first}"))

    tmp = tempfile.mkdtemp(prefix="manypaths-schema-")
    try:
        for name in FILES:
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write("https://hooks.example.test/secret\n" if name.endswith(".url") else "example-only\n")
        for i, case in enumerate(CASES):
            name, text, expected = case[:3]
            reader_expected = case[3] if len(case) > 3 else (VALID if expected == VALID else "rejected")
            doc = yaml.safe_load(text)
            errs = schema_errors(validator, doc)
            if expected == VALID:
                report(not errs, f"case '{name}': schema " + ("accepts it" if not errs else "rejects it: " + "; ".join(f"{where(e.absolute_path)}: {e.message}" for e in errs)))
            else:
                at = [e for e in errs if tuple(e.absolute_path) == tuple(expected)]
                if at:
                    report(True, f"case '{name}': schema rejects it at {where(expected)} ({at[0].validator}): {at[0].message[:100]}")
                elif errs:
                    report(False, f"case '{name}': schema rejects it, but not at {where(expected)}: " + "; ".join(f"{where(e.absolute_path)}: {e.message}" for e in errs))
                else:
                    report(False, f"case '{name}': schema accepts it; expected an error at {where(expected)}")
            if args.reader:
                path = os.path.join(tmp, f"case-{i:02}.yaml")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
                ok, first = run_reader(args.reader, path)
                verdict = "accepts it" if ok else f"rejects it: {first.split(': ', 1)[-1]}"
                if reader_expected == ANY:
                    report(True, f"case '{name}': manypaths check {verdict} (not asserted)")
                else:
                    want_ok = reader_expected == VALID
                    report(ok == want_ok, f"case '{name}': manypaths check {verdict}" + ("" if ok == want_ok else f" (expected it to be {reader_expected})"))
    finally:
        for entry in os.listdir(tmp):
            os.remove(os.path.join(tmp, entry))
        os.rmdir(tmp)

    total = len(examples) + len(CASES)
    print(f"{'FAILED' if failures else 'passed'}: {len(examples)} example(s), {len(CASES)} case(s){' (schema and reader)' if args.reader else ''}; {failures} failure(s) of {total if not args.reader else 2 * total} check(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
