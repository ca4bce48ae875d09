from posture.cli.main import main

main()
