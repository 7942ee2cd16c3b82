from minifw_cli.fast import main

main()
