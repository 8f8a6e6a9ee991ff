from aecodec.cli.main import main

main()
