.PHONY: run test bench
run:
	scripts/run
test:
	scripts/test
bench: 
	scripts/setup test && .venv/bin/kiosk bench
