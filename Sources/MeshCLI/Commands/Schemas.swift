import MeshPipeline
import Foundation
import ArgumentParser
import MeshAnalysis
import MeshPolicy

#if canImport(Glibc)
import Glibc
#endif

/// `meshc schemas --out DIR`
struct Schemas: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the JSON Schema (draft 2020-12) of every kind meshc checks.",
        discussion: "The schemas are generated from the same definitions `meshc lint` type-checks with.")

    @Option(help: "Directory to write <kind>.schema.json files into.")
    var out: String = "schemas"

    func run() throws {
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw PipelineError.unreadable(path: out, message: "cannot create the folder: \(error.localizedDescription)")
        }
        for kind in ResourceKind.allCases {
            let path = "\(out)/\(JSONSchemaGenerator.fileName(for: kind))"
            try write(JSONSchemaGenerator.schema(for: kind).encoded(pretty: true) + "\n", to: path)
        }
        Console.current.out("wrote \(ResourceKind.allCases.count) JSON Schemas (one per kind) to \(out)")
    }

    func write(_ text: String, to path: String) throws {
        guard let file = fopen(path, "w") else {
            throw PipelineError.unreadable(path: path, message: "cannot write: \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        fputs(text, file)
    }
}
