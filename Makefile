# Short aliases; scripts/dev.sh is the source of truth (it also works without make).
.PHONY: serve test openapi migrate bench

serve:
	sh scripts/dev.sh serve

test:
	sh scripts/dev.sh test

openapi:
	.venv/bin/fcsbe openapi

migrate:
	.venv/bin/fcsbe db upgrade

# Every benchmark in bench/ (a few minutes); prints one table, writes bench/results/latest.md.
bench:
	.venv/bin/python -m bench
