# ngx_social: the two commands are `make run` and `make test`.

.PHONY: run test test-asan build stop psql admin bench bench-cache faults \
	flood dead-letters fuzz

# make fuzz: each harness of fuzz/ this long (FUZZ=name for one of them)
FUZZ_SECONDS ?= 60

run:
	@util/run

test:
	@util/test $(T)

test-asan:
	@SOCIAL_VARIANT=asan util/test $(T)

build:
	@util/deps && util/build $(VARIANT)

stop:
	@util/stop

psql:
	@util/psql

bench:
	@util/bench

bench-cache:
	@util/bench-cache

faults:
	@util/faults

flood:
	@util/flood

admin:
	@util/admin $(ID)

dead-letters:
	@util/dead-letters $(DO)

fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) util/fuzz run $(FUZZ)
