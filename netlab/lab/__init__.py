"""Labs: small real networks in network namespaces (design.md §6).

Walk-through for a newcomer, in the order things happen on `netlab lab up FILE`:

1. `topology` reads the TOML file into plain dataclasses (`Topology`, `Node`,
   `Link` …) and validates it. Errors name the file and line. No root needed.
2. `plan` turns a topology into concrete names: namespace per node
   (``nl-<lab>-<node>``), interface names (``eth0`` … inside each namespace),
   and the `ip`/`tc`/`nft` batch text to configure them. Pure functions again.
3. `engine` runs the plan as root, writing every item to the `ledger` *before*
   creating it, so a failed or interrupted `up` and a later `down` remove
   exactly what exists. Nothing is ever created in the root namespace.
4. `services` start real programs (bind9, nginx, a TCP echo server) inside the
   nodes, wait until they answer, and record their pids in the ledger.
"""
