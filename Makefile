# Short aliases; scripts/dev.sh is the source of truth (it also works without make).
.PHONY: serve test openapi migrate

serve:
	sh scripts/dev.sh serve

test:
	sh scripts/dev.sh test

openapi:
	.venv/bin/fcsbe openapi

migrate:
	.venv/bin/fcsbe db upgrade
