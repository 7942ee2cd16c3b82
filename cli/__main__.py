from minifw_cli.main import main

main()
