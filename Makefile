# goloadtest — see README.md
SWIFT ?= swift
PLUGINS := Tools/ProtocPlugins/.build/release
GENERATED := Sources/Protocol

.PHONY: deps hosts build test demo generate plugins lint bench clean

# What the build and the tests need from Debian: SQLite's headers for GRDB, the sqlite3
# command the fault-tolerance tests use to damage and check database files, and nginx and
# openssl for the HTTPS and HTTP/2 target tests (certificates are made by the tests),
# prometheus for `promtool check metrics` on the master's /metrics and a real scrape, and
# chromium to draw the HTML report in a real browser; chromium-driver and python3-selenium to
# drive the live page in it; postgresql for a throwaway server the migrate tests copy into.
DEBS := libsqlite3-dev sqlite3 nginx-light openssl prometheus chromium chromium-driver python3-selenium postgresql
deps:
	@dpkg -s $(DEBS) >/dev/null 2>&1 || { \
	  echo "installing $(DEBS)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq $(DEBS); }

# The address tests need a name with two addresses, ::1 and 127.0.0.1 (as `localhost` has on a
# stock Debian /etc/hosts); added when this runs as root and it is missing.
hosts:
	@grep -q 'goloadtest-dual' /etc/hosts 2>/dev/null || { [ "$$(id -u)" = 0 ] && \
	  printf '::1 goloadtest-dual\n127.0.0.1 goloadtest-dual\n' >> /etc/hosts && \
	  echo "added goloadtest-dual (::1, 127.0.0.1) to /etc/hosts"; } || \
	  echo "add '::1 goloadtest-dual' and '127.0.0.1 goloadtest-dual' to /etc/hosts for the address tests"

build: deps
	$(SWIFT) build -c release --product goloadtest
	@echo "binary: $$($(SWIFT) build -c release --show-bin-path)/goloadtest"

# Tests that time things (run shapes, how fast a dead peer is noticed, a PostgreSQL server stopped
# or frozen mid-run under its deadlines) run on their own, after
# the rest, so that other suites do not compete with them for the two cores.
TIMED := PostgresRecordTests|LoadShapeTests|LostSlaveTests|FaultToleranceTests|NoHangTests|DurationTests|AbortOnFailTests|RampTests|HeartbeatSpreadTests

# Suites that start many processes (masters, slaves, nginx) run in a pass of their own, so that
# the in-process suites of the first pass do not share the two cores with dozens of processes.
PROCESSES := PostgresMigrateTests|IngestTests|WebTests|WebControlTests|MasterPlanTests|HostilePlanTests|ThresholdGateTests|ExpectStatusTests|HTTP2TargetTests|StreamLimitTests|TargetsFileRunTests|ProgressLineTests

# Full runs on the in-process transport, whose slaves reconnect after 3 s without a word from the
# master: they go with the process suites, not beside the report suites of the first pass, whose
# synchronous work can hold this process's two task threads for seconds.
LIVE := FullRunInProcessTests

# Masters that peers talk to on a bound (a command within 20 s, a test within 30 s): in process,
# or real ones driven by in-process peers. Beside the first pass's synchronous suites (fuzzers,
# rollup checks), which can hold this process's two task threads for 20 s on a slow machine, their
# peers starved; they run in a pass of their own.
MASTERS := MasterInProcessTests|RunOverTests|MasterFuzzTests|MasterFuzzEndToEndTests|HostilePeerTests

# A browser and a Prometheus server: heavy processes of their own, run apart.
HEAVY := BrowserTests|PrometheusScrapeTests

# Every report, timeline and list of runs that a test makes from rollups is made from the windows
# too, and the two must be equal: rollups are checked against every run of the suite.
test: export GOLOADTEST_VERIFY_ROLLUPS = 1
test: deps hosts
	$(SWIFT) build --product goloadtest
	$(SWIFT) test --skip "$(TIMED)|$(PROCESSES)|$(LIVE)|$(HEAVY)|$(MASTERS)"
	$(SWIFT) test --skip-build --filter "$(MASTERS)"
	$(SWIFT) test --skip-build --filter "$(PROCESSES)|$(LIVE)"
	$(SWIFT) test --skip-build --filter "$(HEAVY)"
	$(SWIFT) test --skip-build --filter LoadShapeTests
	$(SWIFT) test --skip-build --filter LostSlaveTests
	$(SWIFT) test --skip-build --filter "NoHangTests|DurationTests|AbortOnFailTests|RampTests|HeartbeatSpreadTests"
	$(SWIFT) test --skip-build --filter FaultToleranceTests
	$(SWIFT) test --skip-build --filter PostgresRecordTests

demo: deps
	bash scripts/demo.sh

# Regenerates the committed protobuf/gRPC Swift from Protos/result/result.proto (the protocol)
# and Protos/store/counts.proto (how the store keeps status codes and failure kinds).
# Needs protoc (Debian: protobuf-compiler). The plugins are built once, in release.
generate: plugins
	protoc --proto_path=Protos \
	  --plugin=protoc-gen-swift=$(PLUGINS)/protoc-gen-swift \
	  --plugin=protoc-gen-grpc-swift-2=$(PLUGINS)/protoc-gen-grpc-swift-2 \
	  --swift_out=$(GENERATED) --swift_opt=Visibility=Public \
	  --grpc-swift-2_out=$(GENERATED) --grpc-swift-2_opt=Visibility=Public \
	  result/result.proto
	mv $(GENERATED)/result/* $(GENERATED)/ && rmdir $(GENERATED)/result
	protoc --proto_path=Protos \
	  --plugin=protoc-gen-swift=$(PLUGINS)/protoc-gen-swift \
	  --swift_out=Sources/Store \
	  store/counts.proto
	mv Sources/Store/store/counts.pb.swift Sources/Store/ && rmdir Sources/Store/store

plugins:
	cd Tools/ProtocPlugins && $(SWIFT) build -c release --product protoc-gen-swift
	cd Tools/ProtocPlugins && $(SWIFT) build -c release --product protoc-gen-grpc-swift-2

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

clean:
	rm -rf .build Tools/ProtocPlugins/.build

# Benchmarks (figures in README.md): the engine against wrk, reports of a big history, durable ingest,
# HTTPS and HTTP/2 against wrk and h2load.
bench:
	bash bench/engine.sh 3 10
	bash bench/report.sh
	bash bench/ingest.sh 5 200
	bash bench/tls.sh 3 10
