import MeshConfig
import MeshPolicy

/// Finds routes that can never be reached and matches that can never win, in the order
/// Envoy evaluates them (first match wins). Shared by MESH0130 and MESH0131. Whether one
/// match takes another's traffic is `RouteCondition.covers`, built on `RouteMatch.covers`:
/// the same conditions the proxy evaluates (`RouteMatch.matches`), so lint and the data
/// plane cannot read a match differently.
struct RouteShadowing {
    enum Finding {
        /// A whole route is dead: `node` is the route (or the match that cannot be reached).
        case unreachable(route: YAMLNode, reason: String)
        /// One match of a route is dead because an earlier one takes all its traffic.
        case ineffective(match: YAMLNode, route: String, matchName: String, coveredBy: String)
    }

    static func findings(in vs: VirtualServiceModel) -> [Finding] {
        analyze(vs.http) + analyze(vs.tcp) + analyze(vs.tls)
    }

    static func analyze(_ routes: [RouteRule]) -> [Finding] {
        var out: [Finding] = []
        var catchAll: RouteRule?
        /// Matches that can still win, with their route.
        var earlier: [(condition: RouteCondition, route: RouteRule)] = []
        for route in routes {
            if route.matches.isEmpty {
                if let first = catchAll {
                    out.append(.unreachable(route: route.node, reason: "only the last rule can have no matches; rule \(first.displayName) before it already takes all traffic"))
                }
                catchAll = catchAll ?? route
                continue
            }
            // Istio's IST0130 counts identical matches only: a rule whose every match repeats
            // an earlier one is unreachable (a covered match is reported on its own).
            var dead = 0
            for match in route.matches {
                if let first = catchAll {
                    out.append(.unreachable(route: match.node, reason: "rule \(first.displayName) before it has no match and takes all traffic"))
                    continue
                }
                if let same = earlier.first(where: { $0.condition.isSame(as: match) }) {
                    out.append(.ineffective(match: match.node, route: route.displayName, matchName: match.displayName,
                                            coveredBy: "the identical match in rule \(same.route.displayName)"))
                    dead += 1
                    continue
                }
                // Within one rule an overlap goes to the same destination; like Istio, only a
                // longer URI prefix under a shorter one is reported there (it is dead text).
                if let wider = earlier.first(where: { ($0.route.index != route.index || match.request.uri?.kind == .prefix) && $0.condition.covers(match) }) {
                    out.append(.ineffective(match: match.node, route: route.displayName, matchName: "\(match.displayName)\(describe(match))",
                                            coveredBy: "match \(wider.condition.displayName)\(describe(wider.condition)) of rule \(wider.route.displayName)"))
                    continue
                }
                earlier.append((match, route))
            }
            if catchAll == nil, dead == route.matches.count {
                out.append(.unreachable(route: route.node, reason: "all of its matches are used by earlier rules"))
            }
        }
        return out
    }

    /// ` (prefix /api)`: the URI condition, which is what usually decides.
    static func describe(_ c: RouteCondition) -> String {
        guard let uri = c.request.uri else { return "" }
        return " (\(uri.kind.rawValue) \(uri.value))"
    }
}
