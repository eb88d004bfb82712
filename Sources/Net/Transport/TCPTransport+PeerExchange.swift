import LedgerCore
import Logging
import NIOCore
import NIOPosix

/// An address learned from peers, and how much it is trusted.
struct LearnedAddress: Hashable, Sendable {
    enum Rank: Int, Comparable, Sendable {
        /// Another node said the member listens there.
        case hint
        /// The member said so itself, on its own link.
        case advertised
        /// A dial there reached the member (its hello said so).
        case proven
        static func < (a: Rank, b: Rank) -> Bool { a.rawValue < b.rawValue }
    }
    var endpoint: TCPTransport.Endpoint
    var rank: Rank
    /// Dials to it that failed since it was learned.
    var failures = 0
}

extension TCPTransport.State {
    /// A node this one links with: configured with an address, or named a member.
    func isMember(_ node: NodeID) -> Bool { peers[node] != nil || members.contains(node) }
    /// Every member (the local node may be among ``members``; callers skip it).
    var memberIDs: Set<NodeID> { members.union(peers.keys) }
    /// Where to dial `node`: its configured address, else a learned one.
    func address(of node: NodeID) -> TCPTransport.Endpoint? { peers[node] ?? learned[node]?.endpoint }
}

/// Peer exchange and relaying (N-T-3).
extension TCPTransport {
    /// A dial that fails this many times lets another peer's hint replace the learned address.
    static let failuresBeforeReplacing = 3

    /// The linked peer (lowest ID first) that said it links with `destination`, skipping the nodes of `avoiding`;
    /// nil when relaying is off or none does.
    func route(to destination: NodeID, avoiding: [NodeID], in s: State) -> Link? {
        guard configuration.maximumRelayHops > 0 else { return nil }
        let candidates = s.routes.filter { $0.value.contains(destination) && !avoiding.contains($0.key) && s.links[$0.key] != nil }.keys
        return candidates.min().flatMap { s.links[$0] }
    }

    /// Hands `envelope` to `relay`.
    func sendThrough(_ relay: Link, _ envelope: RelayEnvelope) {
        throughRelayMessages.wrappingAdd(1, ordering: .relaxed)
        write(Frame(kind: .relay, sender: localNode, payload: envelope.encoded), on: relay)
    }

    /// Tells every linked peer the addresses this node knows and whom it links with.
    func advertise() {
        let (links, list) = state.withLock { s -> ([Link], PeerList) in
            var entries = [PeerList.Entry]()
            if let advertised { entries.append(.init(node: localNode, endpoint: advertised)) }
            for (node, endpoint) in s.peers.sorted(by: { $0.key < $1.key }) where endpoint.path == nil {
                entries.append(.init(node: node, endpoint: endpoint))
            }
            // Hints from third parties are not passed on: only what a member said itself or a dial proved.
            for (node, learned) in s.learned.sorted(by: { $0.key < $1.key }) where s.peers[node] == nil && learned.rank > .hint {
                entries.append(.init(node: node, endpoint: learned.endpoint))
            }
            return (Array(s.links.values), PeerList(entries: Array(entries.prefix(PeerList.maximumEntries)), links: s.links.keys.sorted()))
        }
        guard !links.isEmpty else { return }
        let frame = Frame(kind: .peers, sender: localNode, payload: list.encoded)
        for link in links { write(frame, on: link) }
    }

    /// Merges a peer's ``PeerList``: its links become routes, addresses of members fill the table (a configured
    /// address is never replaced; a member's own word beats a third party's hint), and new addresses are dialled.
    func receivePeerList(_ payload: [UInt8], from peer: NodeID) {
        let list: PeerList
        do { list = try PeerList(decoding: payload) } catch {
            configuration.logger.warning("peer list ignored", metadata: ["node": "\(localNode.rawValue)", "peer": "\(peer.rawValue)",
                                                                         "code": "\(error.code.rawValue)", "reason": "\(error.message)"])
            return
        }
        let changed = state.withLock { s -> Bool in
            guard !s.closed, s.links[peer] != nil else { return false }
            s.routes[peer] = Set(list.links.filter { $0 != localNode && $0 != peer && s.isMember($0) })
            var changed = false
            for entry in list.entries where entry.node != localNode && s.isMember(entry.node) && s.peers[entry.node] == nil {
                let rank: LearnedAddress.Rank = entry.node == peer ? .advertised : .hint
                if let known = s.learned[entry.node] {
                    let replace = known.rank < rank
                        || (rank == .advertised && known.rank == .advertised && known.endpoint != entry.endpoint)
                        || (rank == known.rank && known.failures >= Self.failuresBeforeReplacing && known.endpoint != entry.endpoint)
                    guard replace else { continue }
                } else if s.learned.count >= configuration.maximumLearnedAddresses {
                    continue
                }
                s.learned[entry.node] = LearnedAddress(endpoint: entry.endpoint, rank: rank)
                changed = true
            }
            return changed
        }
        if changed {
            dialAll()
            advertise()
        }
    }

    /// Delivers an envelope meant for this node, forwards one meant for another, or drops it (counted).
    func receiveRelay(_ payload: [UInt8], from peer: NodeID) {
        let envelope: RelayEnvelope
        do { envelope = try RelayEnvelope(decoding: payload) } catch {
            return refuseRelay(error.message, from: peer, code: error.code)
        }
        guard envelope.path.last == peer else {
            return refuseRelay("path ends with node \(envelope.path.last.map { String($0.rawValue) } ?? "none"), not the peer that handed it over",
                               from: peer)
        }
        guard !envelope.path.contains(localNode) else { return refuseRelay("this node is already in its path (a loop)", from: peer) }
        guard let origin = envelope.origin else { return refuseRelay("no origin", from: peer) }
        let (member, next) = state.withLock { s -> (Bool, Link?) in
            guard s.isMember(origin) else { return (false, nil) }
            guard envelope.destination != localNode else { return (true, nil) }
            guard configuration.maximumRelayHops > 0, envelope.hopsLeft > 0 else { return (true, nil) }
            return (true, s.links[envelope.destination] ?? route(to: envelope.destination, avoiding: envelope.path + [localNode], in: s))
        }
        guard member else { return refuseRelay("origin \(origin.rawValue) is not a member", from: peer) }
        if envelope.destination == localNode {
            throughRelayMessages.wrappingAdd(1, ordering: .relaxed)
            return deliver(envelope.payload, from: origin)
        }
        guard let next else {
            return refuseRelay("no way on to node \(envelope.destination.rawValue) (\(envelope.hopsLeft) hops left)", from: peer)
        }
        var onward = envelope
        onward.path.append(localNode)
        onward.hopsLeft -= 1
        relayedFrames.wrappingAdd(1, ordering: .relaxed)
        relayedCounter.increment()
        write(Frame(kind: .relay, sender: localNode, payload: onward.encoded), on: next)
    }

    private func refuseRelay(_ reason: String, from peer: NodeID, code: NetError.Code = .relayRefused) {
        droppedMessages.wrappingAdd(1, ordering: .relaxed)
        dropped.increment()
        configuration.logger.debug("relayed message dropped", metadata: ["node": "\(localNode.rawValue)", "peer": "\(peer.rawValue)",
                                                                         "code": "\(code.rawValue)", "reason": "\(reason)"])
    }

    /// Dials each seed that has not answered yet, or whose node has no link now.
    func dialSeeds() {
        let targets = state.withLock { s -> [Endpoint] in
            guard !s.closed else { return [] }
            let due = configuration.seeds.filter { seed in
                !s.seedsDialing.contains(seed) && s.seedNodes[seed].map { s.links[$0] == nil } ?? true
            }
            s.seedsDialing.formUnion(due)
            return due
        }
        for seed in targets {
            Task { [weak self] in await self?.connect(seed: seed) }
        }
    }

    private func connect(seed: Endpoint) async {
        defer { state.withLock { _ = $0.seedsDialing.remove(seed) } }
        do {
            var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelInitializer { [self] channel in initialize(channel, dialled: nil, seed: seed) }
            if seed.path == nil { bootstrap = bootstrap.channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1) }
            _ = try await (seed.path.map { bootstrap.connect(unixDomainSocketPath: $0) } ?? bootstrap.connect(host: seed.host, port: seed.port)).get()
        } catch {
            configuration.logger.debug("seed dial failed", metadata: ["node": "\(localNode.rawValue)", "seed": "\(seed)", "error": "\(error)"])
        }
    }
}
