"""``python -m simulators PROVIDER --host ... --port ... --webhook-url ...``: serve a simulator."""

from simulators.runner import main

if __name__ == "__main__":
    main()
