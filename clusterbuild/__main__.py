from clusterbuild.cli.entry import main

main()
