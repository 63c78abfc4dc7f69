import MeshCLI
MeshCommand.main()
