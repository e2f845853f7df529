# ngx_social: the two commands are `make run` and `make test`.

.PHONY: run test test-asan build stop psql admin bench faults flood dead-letters

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

faults:
	@util/faults

flood:
	@util/flood

admin:
	@util/admin $(ID)

dead-letters:
	@util/dead-letters $(DO)
