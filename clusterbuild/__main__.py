from clusterbuild.cli.main import main

main()
