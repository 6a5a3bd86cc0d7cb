from srhm.cli import main

main()
