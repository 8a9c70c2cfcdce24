from dgr.cli import main

main()
