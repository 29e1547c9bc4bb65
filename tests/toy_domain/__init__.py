"""A toy domain, written the way a newcomer adds one: this package and a line in the list of domains, no edit to
the kernel or the other domains (tests/core/test_domain_contract.py lists it)."""
