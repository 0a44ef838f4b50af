from slmconvert.cli.app import main

main()
