import ArgumentParser

@main
struct GoLoadTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "goloadtest",
        abstract: "A distributed HTTP load tester that keeps every run in SQLite.",
        discussion: """
            The original positional forms work too:
              goloadtest MASTER <ip> <port> <master-name>
              goloadtest SLAVE <master-ip> <port> <slave-name> <tasks> <batch>
            Exit codes: 0 success; 1 the run did not complete or something failed (the message says what);
            64 bad command line.
            """,
        version: "0.3.0",
        subcommands: [
            MasterCommand.self, SlaveCommand.self, RunCommand.self, ReportCommand.self, RunsCommand.self, MigrateCommand.self, TargetCommand.self,
            LegacyMasterCommand.self, LegacySlaveCommand.self,
        ]
    )
}
