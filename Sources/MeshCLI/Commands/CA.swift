import MeshConfig
import ArgumentParser
import Foundation
import MeshBundle
import MeshCA
import MeshPipeline
import MeshPolicy

/// `meshc ca init` and `meshc ca issue`: the mesh CA's root and the workload certificates it
/// issues (SPIFFE IDs as Istio writes them).
struct CA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "Create the mesh CA, issue workload certificates (SPIFFE identities), rotate its root.",
        subcommands: [Init.self, Issue.self, Token.self, Rotate.self])

    /// `--ca DIR` and `--workload ns/name`, as `issue` and `token` take them.
    struct Signer: ParsableArguments {
        @Option(help: "The CA's directory (root.pem, root.key).")
        var ca: String

        @Option(help: "The workload, namespace/name.")
        var workload: String

        func validate(ttl: String) throws {
            guard IstioDuration.parseIstio(ttl).map({ $0 > 0 }) == true else { throw ValidationError("--ttl \"\(ttl)\" is not a positive duration") }
            let parts = workload.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("--workload \"\(workload)\" is not namespace/name") }
        }

        /// The CA, with its errors as usage errors (exit 2).
        func authority() throws -> CertificateAuthority {
            do { return try CertificateAuthority.load(directory: ca) } catch { throw PipelineError.usage(error.description) }
        }
    }

    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a short-lived bootstrap token that entitles one workload to its first certificate.",
            discussion: "A JWT signed ES256 by the CA key for the audience meshc-ca, naming the workload. `meshc serve --ca` signs a CSR sent with it (Authorization: Bearer …) for the identity the served revision gives that workload.")

        @OptionGroup var signer: Signer

        @Option(help: "Token lifetime.")
        var ttl = "10m"

        func validate() throws { try signer.validate(ttl: ttl) }

        func run() throws {
            let authority = try signer.authority()
            do { Console.current.out(try BootstrapToken.issue(workload: signer.workload, ttl: IstioDuration.parseIstio(ttl)!, ca: authority)) } catch {
                throw PipelineError.usage(error.description)
            }
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a root CA: DIR/root.pem and DIR/root.key (mode 0600), ECDSA P-256, valid 10 years.",
            discussion: "The root's URI SAN names the trust domain (spiffe://<trust domain>). An existing root.key is never overwritten.")

        @Option(help: "Directory for root.pem and root.key.")
        var out: String

        @Option(name: .customLong("trust-domain"), help: "The trust domain of the identities the CA issues.")
        var trustDomain = "cluster.local"

        func run() throws {
            do {
                let ca = try CertificateAuthority.create(trustDomain: trustDomain)
                try ca.write(to: out)
                Console.current.out("wrote \(out)/\(CertificateAuthority.rootCertificateFile) and \(out)/\(CertificateAuthority.rootKeyFile) (trust domain \(ca.trustDomain), valid until \(Timestamp.format(ca.root.notValidAfter)))")
            } catch {
                throw PipelineError.usage(error.description)
            }
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a workload certificate: DIR2/cert.pem and DIR2/key.pem (mode 0600).",
            discussion: "The certificate's only SAN is spiffe://<trust domain>/ns/<namespace>/sa/<service account>; it verifies against the CA's root.pem (openssl verify -CAfile root.pem cert.pem).")

        @OptionGroup var signer: Signer

        @Option(name: .customLong("service-account"), help: "The workload's service account (its identity).")
        var serviceAccount: String

        @Option(help: "Directory for cert.pem and key.pem.")
        var out: String

        @Option(help: "Certificate lifetime (Istio durations: 24h, 90m, …).")
        var ttl = "24h"

        func validate() throws { try signer.validate(ttl: ttl) }

        func run() throws {
            let namespace = String(signer.workload.split(separator: "/")[0])
            let authority = try signer.authority()
            do {
                guard let id = SPIFFEID(trustDomain: authority.trustDomain, namespace: namespace, serviceAccount: serviceAccount) else {
                    throw PipelineError.usage("namespace \"\(namespace)\" and service account \"\(serviceAccount)\" make no valid SPIFFE ID")
                }
                let paths = try authority.issue(id, ttl: IstioDuration.parseIstio(ttl)!, into: out)
                Console.current.out("wrote \(paths.certificate) (\(id)) and \(paths.key)")
            } catch let error as CAError {
                throw PipelineError.usage(error.description)
            }
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rotate the root without a restart: stage a new root, activate it, retire the old one.",
            discussion: """
            Run once to stage: DIR/next.pem joins the trust bundle while the current root still \
            signs; wait until every proxy has refreshed its bundle. Run again to activate: the \
            new root signs, the old one stays trusted in DIR/previous.pem (its key is kept as \
            root.key.retired-<time>). After one leaf lifetime, --retire drops the old root. A \
            running meshc serve --ca DIR picks up each step; DIR/trust-bundle.pem always holds \
            the bundle, for proxies given --ca-roots.
            """)

        @Option(help: "The CA's directory (root.pem, root.key).")
        var ca: String

        @Flag(help: "Drop the previous root from the trust bundle.")
        var retire = false

        @Flag(help: "With --retire: even if leaves it signed may still be valid.")
        var force = false

        @Option(name: .customLong("leaf-ttl"), help: "With --retire: the longest leaf lifetime the CA issued.")
        var leafTTL = "24h"

        func validate() throws {
            guard IstioDuration.parseIstio(leafTTL).map({ $0 > 0 }) == true else { throw ValidationError("--leaf-ttl \"\(leafTTL)\" is not a positive duration") }
            if force && !retire { throw ValidationError("--force goes with --retire") }
        }

        func run() throws {
            let step: Rotation.Step, bundle: Int
            do {
                if retire {
                    step = try Rotation.retire(directory: ca, leafLifetime: IstioDuration.parseIstio(leafTTL)!, force: force)
                } else {
                    step = try Rotation.advance(directory: ca)
                }
                bundle = try Rotation.writeTrustBundle(directory: ca)
            } catch {
                throw PipelineError.usage(error.description)
            }
            switch step {
            case .staged(let notAfter):
                Console.current.out("staged a new root in \(ca)/\(Rotation.nextCertificateFile) (valid until \(Timestamp.format(notAfter))); the trust bundle now holds \(bundle) roots. When every proxy has it, run meshc ca rotate again to sign with it.")
            case .activated:
                Console.current.out("the new root signs now; the old one stays trusted in \(ca)/\(Rotation.previousFile) until meshc ca rotate --retire (after one leaf lifetime). Trust bundle: \(bundle) roots.")
            case .retired(let count):
                Console.current.out("retired \(count) previous root(s); the trust bundle now holds \(bundle) root(s).")
            }
        }
    }
}
