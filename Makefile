# netlab — set up a fresh Debian machine (as root) and do everything:
#   make demo   create .venv, install netlab, run it on bundled data
#   make test   create .venv with dev tools, install the Debian peers, run the whole suite
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Debian's python3 (installed by `deps`) when it is there: it is built with PGO and LTO,
# which makes per-packet Python code (the dissector) 15-20 % faster than a plain
# source build such as pyenv's default (bench/bench_dissect.py measures the result).
PYTHON ?= $(shell test -x /usr/bin/python3 && /usr/bin/python3 -c 'import ensurepip' 2>/dev/null \
	&& echo /usr/bin/python3 || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Debian packages the tests and labs need: the real peers netlab is compared with.
# gcc and python3-dev: make setup compiles the hot modules (setup.py).
APT_PACKAGES := python3 python3-venv iproute2 iputils-ping iputils-arping traceroute arp-scan \
	bind9 bind9-dnsutils nginx-light tcpdump tshark nftables libpcap0.8 pipx util-linux procps curl \
	ieee-data nmap ndisc6 nghttp2-client sslscan libnginx-mod-rtmp ffmpeg rtmpdump zsh fish \
	python3-libtorrent opentracker mktorrent aria2 hping3 vsftpd ngtcp2-client ngtcp2-server \
	gcc python3-dev

.PHONY: help setup deps venv caps test demo demo-labs lint format completions bench fuzz clean

help:
	@echo "make demo         set up .venv and run netlab on bundled examples"
	@echo "make test         set up everything (Debian packages too) and run the whole suite"
	@echo "make lint         ruff check + format check"
	@echo "make completions  regenerate completions/ from the click app"
	@echo "make caps         (root) $(CAPS_VENV)/bin/netlab: raw sockets without root, on a copy of python3"
	@echo "make bench        run the benchmarks in bench/"
	@echo "make fuzz         the long fuzzing campaign: FUZZ_EXAMPLES (100000) cases per surface"

# Debian packages: installed only when one is missing, so repeated runs stay fast.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "make: run as root to install: $$missing" >&2; exit 1; fi; \
		echo "installing Debian packages: $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q; \
		apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "make: netlab needs Python >= 3.11 ($(PYTHON) is older)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Compile the dissector's hot modules with Cython (netlab/compiled.py: a module that
# fails to build stays Python), then byte-compile netlab's own modules, as pip does for
# an installed package: an editable install otherwise compiles them at every start
# wherever PYTHONDONTWRITEBYTECODE is set (tens of ms of every command's start-up).
# Both redo only what changed.
venv: $(STAMP)
	@$(BIN)/python setup.py -q build_ext --inplace -j 2
	@$(BIN)/python -m compileall -q netlab

setup: deps venv

# Raw sockets without root, for netlab only: a venv of its own whose python3 is a *copy*
# of the interpreter (venv --copies), the capabilities set on that copy. setcap on the
# system's python3 (what a venv's python3 links to) would give raw sockets to every
# Python program on the machine; here only what runs on $(CAPS_VENV)'s interpreter has
# them. The venv has no packages of its own: a .pth adds $(VENV)'s, so netlab is this
# checkout's.
CAPS_VENV ?= .venv-caps
caps: $(STAMP)
	@if [ "$$(id -u)" != 0 ]; then echo "make: setcap needs root: sudo make caps" >&2; exit 1; fi
	$(BIN)/python -m venv --copies --without-pip --clear $(CAPS_VENV)
	@site=$$($(CAPS_VENV)/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("purelib"))'); \
	main=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))'); \
	echo "import site; site.addsitedir('$$main')" > "$$site/netlab-venv.pth"
	@printf '#!%s\nimport sys\nfrom netlab.cli.main import main\nsys.exit(main())\n' \
		"$(abspath $(CAPS_VENV))/bin/python3" > $(CAPS_VENV)/bin/netlab
	@chmod 755 $(CAPS_VENV)/bin/netlab
	setcap cap_net_raw,cap_net_admin+ep $(CAPS_VENV)/bin/python3
	@getcap $(CAPS_VENV)/bin/python3
	@echo "raw sockets without root, for netlab only: $(abspath $(CAPS_VENV))/bin/netlab"

# PATH puts the venv first so lab scripts and tests find this checkout's `netlab`.
test: setup
	$(BIN)/ruff check netlab tests bench
	$(BIN)/ruff format --check netlab tests bench
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -n 3 --dist loadgroup

demo: venv
	@echo '$$ netlab cidr 10.100.122.2/24'
	@$(BIN)/netlab cidr 10.100.122.2/24
	@echo
	@echo '$$ netlab cidr 198.18.7.1/15 2001:db8:beef::1/48 100.64.12.1/10'
	@$(BIN)/netlab cidr 198.18.7.1/15 2001:db8:beef::1/48 100.64.12.1/10
	@echo
	@echo '$$ netlab cidr --json 192.168.1.77/26'
	@$(BIN)/netlab cidr --json 192.168.1.77/26
	@for f in pcaps/*.pcap pcaps/*.pcapng; do \
		echo; echo "\$$ netlab dissect $$f"; $(BIN)/netlab dissect "$$f"; \
	done
	@echo; echo '$$ netlab dissect -V --packet 10 pcaps/tcp-udp.pcap   # the ICMP error and the datagram it quotes'
	@$(BIN)/netlab dissect -V --packet 10 pcaps/tcp-udp.pcap
	@echo; echo "\$$ netlab dissect -V -Y 'rtmpt.video.avc.packet_type == 0' pcaps/rtmp.pcapng   # RTMP: the AVC sequence header"
	@$(BIN)/netlab dissect -V -Y 'rtmpt.video.avc.packet_type == 0' pcaps/rtmp.pcapng
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory demo-labs; \
	else echo; echo "(run 'make demo' as root for the lab part: ping, traceroute and DNS in namespaces)"; fi

# The lab part of the demo (root): real networks in namespaces, real servers inside.
demo-labs: setup
	@export PATH="$(CURDIR)/$(BIN):$$PATH"; \
	trap 'netlab lab down demo-routed >/dev/null 2>&1 || true; netlab lab down demo-dns >/dev/null 2>&1 || true' EXIT; \
	echo; echo '$$ netlab lab up labs/routed.toml'; netlab lab up labs/routed.toml --name demo-routed; \
	echo; echo '$$ netlab lab exec client -- netlab ping -c 3 -i 0.2 --explain server'; \
	netlab lab exec --lab demo-routed client -- netlab ping -c 3 -i 0.2 --explain server; \
	echo; echo '$$ netlab lab exec client -- netlab traceroute server'; \
	netlab lab exec --lab demo-routed client -- netlab traceroute server; \
	netlab lab down demo-routed >/dev/null; \
	echo; echo '$$ netlab lab up labs/dns.toml'; netlab lab up labs/dns.toml --name demo-dns >/dev/null; \
	echo '$$ netlab lab exec client -- netlab dns-query --trace --root 198.18.0.1 www.example.lab'; \
	netlab lab exec --lab demo-dns client -- netlab dns-query --trace --root 198.18.0.1 www.example.lab

lint: venv
	$(BIN)/ruff check netlab tests bench
	$(BIN)/ruff format --check netlab tests bench

format: venv
	$(BIN)/ruff check --fix netlab tests bench
	$(BIN)/ruff format netlab tests bench

# click writes the scripts; they call back into `netlab` (which answers without
# importing scapy or rich). tests/test_completions.py fails when these are stale.
completions: venv
	_NETLAB_COMPLETE=bash_source $(BIN)/netlab > completions/netlab.bash
	_NETLAB_COMPLETE=zsh_source $(BIN)/netlab > completions/_netlab
	_NETLAB_COMPLETE=fish_source $(BIN)/netlab > completions/netlab.fish

# Every input surface of tests/test_fuzz.py with a large budget (make test runs 150 each),
# two surfaces at a time (one process per CPU here). 100,000 cases each: about an hour.
FUZZ_EXAMPLES ?= 100000
fuzz: venv
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -p no:cacheprovider \
		-n 2 --dist load --hypothesis-show-statistics --durations=0 tests/test_fuzz.py

bench: venv
	$(BIN)/python bench/bench_startup.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
