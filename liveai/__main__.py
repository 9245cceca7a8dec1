from liveai.cli import main

if __name__ == "__main__":  # a multiprocessing child importing this must not run the CLI
    raise SystemExit(main())
