/// What Istio's validating webhook (`pkg/config/validation`) refuses beyond its CRD schemas:
/// combinations of fields, cross-field requirements, host and name forms. Each check is
/// Istio's meaning, located at the field to fix. Errors are refused at apply (MESH0021);
/// what the webhook only warns about is a warning (MESH0022).
public enum WebhookChecks {
    public static func check(_ kind: ResourceKind, spec: YAMLNode, resource: ResourceRef) -> [Diagnostic] {
        var out = Findings(resource: resource)
        switch kind {
        case .gateway: gateway(spec, &out)
        case .virtualService: virtualService(spec, &out)
        case .serviceEntry: serviceEntry(spec, &out)
        case .sidecar: sidecar(spec, &out)
        case .destinationRule: destinationRule(spec, &out)
        case .authorizationPolicy: authorizationPolicy(spec, &out)
        default: break
        }
        return out.diagnostics
    }

    struct Findings {
        let resource: ResourceRef
        var diagnostics: [Diagnostic] = []
        mutating func error(_ message: String, _ node: YAMLNode) {
            diagnostics.append(Diagnostic(PolicyRules.invalidValue, message, at: node.span, resource: resource))
        }
        mutating func warning(_ message: String, _ node: YAMLNode) {
            diagnostics.append(Diagnostic(PolicyRules.webhookWarning, message, at: node.span, resource: resource))
        }
    }

    static func has(_ node: YAMLNode?, _ key: String) -> Bool { node?.setPair(key) != nil }

    // MARK: Gateway

    static func gateway(_ spec: YAMLNode, _ out: inout Findings) {
        if spec["servers"]?.elements.isEmpty ?? true {
            out.error("gateway must have at least one server", spec["servers"] ?? spec)
        }
        var portNames: [String: YAMLNode] = [:]
        for (i, server) in (spec["servers"]?.elements ?? []).enumerated() where server.isMapping {
            let at = "spec.servers[\(i)]"
            let proto = server.at("port", "protocol")?.scalar?.uppercased() ?? ""
            if let nameNode = server.at("port", "name"), let name = nameNode.scalar, !name.isEmpty {
                if portNames[name] != nil {
                    out.error("\(at).port.name \"\(name)\" is used by another server: port names in servers must be unique", nameNode)
                }
                portNames[name] = nameNode
            }
            let tls = server.setPair("tls")?.value
            let mode = tls?["mode"]?.scalar?.uppercased() ?? "SIMPLE"
            let certificate = has(tls, "credentialName") || has(tls, "credentialNames") || has(tls, "tlsCertificates")
                || (has(tls, "serverCertificate") && has(tls, "privateKey"))
            if (proto == "HTTPS" || proto == "TLS") && tls == nil {
                out.error("\(at) has protocol \(proto) but no tls settings: a server must have TLS settings for HTTPS/TLS protocols", server.at("port", "protocol") ?? server)
                continue
            }
            guard let tls else { continue }
            if tls["httpsRedirect"]?.scalar == "true", !["HTTP", "HTTP2", "GRPC"].contains(proto), let node = tls.pair("httpsRedirect")?.key {
                out.warning("\(at).tls.httpsRedirect should only be used with HTTP servers", node)
            }
            // Settings only matter where the gateway terminates TLS.
            guard proto == "HTTPS" || proto == "TLS" else { continue }
            let modeNode = tls["mode"] ?? server["tls"] ?? server
            switch mode {
            case "SIMPLE", "OPTIONAL_MUTUAL", "MUTUAL":
                if !certificate {
                    out.error("\(at).tls mode \(mode) needs a certificate: set credentialName (a Secret) or serverCertificate and privateKey", modeNode)
                } else if mode != "SIMPLE", !has(tls, "credentialName"), !has(tls, "credentialNames"), !has(tls, "caCertificates") {
                    out.error("\(at).tls mode \(mode) needs the client CA: set caCertificates, or a credentialName whose Secret holds ca.crt", modeNode)
                }
            case "ISTIO_MUTUAL":
                for key in ["credentialName", "credentialNames", "serverCertificate", "privateKey", "caCertificates"] {
                    if let node = tls.setPair(key)?.key {
                        out.error("\(at).tls mode ISTIO_MUTUAL uses the mesh's certificates: \(key) cannot be set", node)
                    }
                }
            case "PASSTHROUGH", "AUTO_PASSTHROUGH":
                for key in ["credentialName", "credentialNames", "serverCertificate", "privateKey", "caCertificates"] {
                    if let node = tls.setPair(key)?.key {
                        out.warning("\(at).tls mode \(mode) does not terminate TLS: \(key) is ignored", node)
                    }
                }
                if mode == "AUTO_PASSTHROUGH", proto != "TLS" {
                    out.error("\(at).tls mode AUTO_PASSTHROUGH needs protocol TLS, not \(proto)", modeNode)
                }
            default:
                break
            }
        }
    }

    // MARK: VirtualService

    static func virtualService(_ spec: YAMLNode, _ out: inout Findings) {
        let gateways = spec["gateways"]?.stringList ?? []
        let boundToMesh = gateways.isEmpty || gateways.contains("mesh")
        let hosts = spec["hosts"]?.elements ?? []
        let isDelegate = hosts.isEmpty
        for host in hosts where host.scalar == "*" && boundToMesh {
            out.error("host \"*\" is not allowed for a VirtualService bound to the mesh gateway (it would claim every service); bind it to gateways, or name the hosts", host)
        }
        if isDelegate, let node = spec.pair("gateways")?.key, !gateways.isEmpty {
            out.error("a delegate VirtualService (one without hosts) cannot set gateways: the root VirtualService decides them", node)
        }
        for (i, route) in (spec["http"]?.elements ?? []).enumerated() where route.isMapping {
            let at = "spec.http[\(i)]"
            let routes = has(route, "route") && !(route["route"]?.elements.isEmpty ?? true)
            let redirect = has(route, "redirect"), direct = has(route, "directResponse"), delegate = has(route, "delegate")
            func key(_ k: String) -> YAMLNode { route.pair(k)?.key ?? route }
            if routes && redirect { out.error("\(at) sets both route and redirect; an HTTP route does one", key("redirect")) }
            if routes && direct { out.error("\(at) sets both route and directResponse; an HTTP route does one", key("directResponse")) }
            if redirect && direct { out.error("\(at) sets both redirect and directResponse; an HTTP route does one", key("directResponse")) }
            if redirect && has(route, "rewrite") { out.error("\(at) sets both rewrite and redirect; a redirected request is not forwarded, so nothing is rewritten", key("rewrite")) }
            if !routes && !redirect && !direct && !delegate {
                out.error("\(at) has no route, redirect, directResponse or delegate: the rule sends its requests nowhere", route)
            }
            if delegate {
                if isDelegate { out.error("\(at).delegate in a delegate VirtualService: delegation is one level deep", key("delegate")) }
                for other in ["route", "redirect", "directResponse"] where has(route, other) {
                    out.error("\(at) sets both delegate and \(other); the delegate VirtualService decides the routing", key(other))
                }
            }
        }
        // TLS routes match on SNI: each sniHost must be one of (or under) the VirtualService's hosts.
        let hostNames = hosts.compactMap(\.scalar)
        for (i, route) in (spec["tls"]?.elements ?? []).enumerated() {
            for m in route["match"]?.elements ?? [] {
                for sni in m["sniHosts"]?.elements ?? [] {
                    guard let name = sni.scalar, !hostNames.isEmpty else { continue }
                    let covered = hostNames.contains { h in h == name || h == "*" || (h.hasPrefix("*.") && name.hasSuffix(String(h.dropFirst()))) || (name.hasPrefix("*.") && h.hasSuffix(String(name.dropFirst()))) }
                    if !covered { out.error("spec.tls[\(i)] sniHost \"\(name)\" is not one of the VirtualService's hosts", sni) }
                }
            }
        }
    }

    // MARK: ServiceEntry

    static func serviceEntry(_ spec: YAMLNode, _ out: inout Findings) {
        let resolution = spec["resolution"]?.scalar ?? "NONE"
        let endpoints = spec["endpoints"]?.elements ?? []
        let selector = has(spec, "workloadSelector")
        if resolution == "DNS" || resolution == "DNS_ROUND_ROBIN", endpoints.isEmpty {
            for host in spec["hosts"]?.elements ?? [] where (host.scalar ?? "").hasPrefix("*") {
                out.error("host \"\(host.scalar ?? "")\" is a wildcard, but resolution \(resolution) without endpoints resolves the hosts themselves: they must be FQDNs", host)
            }
        }
        if resolution == "STATIC", endpoints.isEmpty, !selector, let node = spec["resolution"] {
            out.error("resolution STATIC needs endpoints (or a workloadSelector): there is nothing to send traffic to", node)
        }
    }

    // MARK: Sidecar

    static func sidecar(_ spec: YAMLNode, _ out: inout Findings) {
        var withoutPort = 0
        for (i, egress) in (spec["egress"]?.elements ?? []).enumerated() {
            if !has(egress, "port") {
                withoutPort += 1
                if withoutPort > 1 { out.error("spec.egress[\(i)]: only one egress listener may have no port (the catch-all)", egress) }
            }
            for host in egress["hosts"]?.elements ?? [] {
                guard let text = host.scalar else { continue }
                let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
                if parts.count != 2 || parts[0].isEmpty || parts[1].isEmpty {
                    out.error("spec.egress[\(i)] host \"\(text)\" must be namespace/dnsName (\"./*\", \"istio-system/*\", \"*/api.example.com\")", host)
                }
            }
        }
        var ingressPorts: [String: YAMLNode] = [:]
        for ingress in spec["ingress"]?.elements ?? [] {
            guard let node = ingress.at("port", "number"), let n = node.scalar else { continue }
            if ingressPorts[n] != nil { out.error("ingress port \(n) is declared twice: ports of ingress listeners must be unique", node) }
            ingressPorts[n] = node
        }
        if let mode = spec.at("outboundTrafficPolicy", "mode")?.scalar, mode == "REGISTRY_ONLY",
           let node = spec.at("outboundTrafficPolicy")?.pair("egressProxy")?.key {
            out.error("outboundTrafficPolicy.egressProxy applies only with mode ALLOW_ANY", node)
        }
    }

    // MARK: AuthorizationPolicy

    /// The attributes a `when` condition may test (Istio's authorization model).
    static let conditionKeys = ["source.ip", "remote.ip", "source.namespace", "source.principal", "source.serviceAccount",
                                "source.trustDomain", "request.auth.principal", "request.auth.audiences", "request.auth.presenter",
                                "destination.ip", "destination.port", "connection.sni"]
    static let conditionKeyPrefixes = ["request.headers[", "request.auth.claims[", "experimental.envoy.filters."]

    static func authorizationPolicy(_ spec: YAMLNode, _ out: inout Findings) {
        let action = spec["action"]?.scalar ?? "ALLOW"
        if action != "CUSTOM", let node = spec.pair("provider")?.key, has(spec, "provider") {
            out.error("provider applies only to action CUSTOM (this policy's action is \(action))", node)
        }
        for (i, rule) in (spec["rules"]?.elements ?? []).enumerated() {
            for (j, condition) in (rule["when"]?.elements ?? []).enumerated() {
                let at = "spec.rules[\(i)].when[\(j)]"
                if let keyNode = condition["key"], let key = keyNode.scalar {
                    let known = conditionKeys.contains(key) || conditionKeyPrefixes.contains { key.hasPrefix($0) && (key.hasSuffix("]") || $0.hasSuffix(".")) }
                    if !known {
                        var message = "\(at).key \"\(key)\" is not an attribute Istio's authorization knows"
                        if let guess = Suggest.closest(to: key, in: conditionKeys) { message += " (did you mean \(guess)?)" }
                        out.error(message, keyNode)
                    }
                }
                if (condition["values"]?.elements ?? []).isEmpty, (condition["notValues"]?.elements ?? []).isEmpty {
                    out.error("\(at) needs values or notValues: a condition with neither matches nothing", condition["key"] ?? condition)
                }
            }
            for (j, to) in (rule["to"]?.elements ?? []).enumerated() {
                for field in ["ports", "notPorts"] {
                    for port in to.at("operation", field)?.elements ?? [] {
                        guard let text = port.scalar, let n = Int(text), (0...65535).contains(n) else {
                            out.error("spec.rules[\(i)].to[\(j)].operation.\(field) entry \"\(port.scalar ?? "")\" is not a port number", port)
                            continue
                        }
                    }
                }
            }
        }
    }

    // MARK: DestinationRule

    static func destinationRule(_ spec: YAMLNode, _ out: inout Findings) {
        var subsets: [String: YAMLNode] = [:]
        for subset in spec["subsets"]?.elements ?? [] {
            guard let node = subset["name"], let name = node.scalar else { continue }
            if subsets[name] != nil { out.error("subset \"\(name)\" is defined twice in this DestinationRule", node) }
            subsets[name] = node
        }
        func clientTLS(_ tls: YAMLNode?, _ at: String) {
            guard let tls, let mode = tls["mode"]?.scalar else { return }
            if mode == "MUTUAL", !has(tls, "credentialName"), !(has(tls, "clientCertificate") && has(tls, "privateKey")), let node = tls["mode"] {
                out.error("\(at).tls mode MUTUAL needs the client's certificate: set credentialName, or clientCertificate and privateKey", node)
            }
            if mode == "ISTIO_MUTUAL" {
                for key in ["clientCertificate", "privateKey", "caCertificates", "credentialName"] {
                    if let node = tls.setPair(key)?.key {
                        out.error("\(at).tls mode ISTIO_MUTUAL uses the mesh's certificates: \(key) cannot be set", node)
                    }
                }
            }
        }
        clientTLS(spec.at("trafficPolicy", "tls"), "spec.trafficPolicy")
        for (i, p) in (spec.at("trafficPolicy", "portLevelSettings")?.elements ?? []).enumerated() {
            clientTLS(p["tls"], "spec.trafficPolicy.portLevelSettings[\(i)]")
        }
        for (i, s) in (spec["subsets"]?.elements ?? []).enumerated() {
            clientTLS(s.at("trafficPolicy", "tls"), "spec.subsets[\(i)].trafficPolicy")
        }
    }
}
