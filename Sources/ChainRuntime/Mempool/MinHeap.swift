/// A binary min-heap. Pop order depends only on the elements' order, never
/// on insertion order when elements are distinct, so code that builds a heap
/// from a `Dictionary` still produces a deterministic sequence.
struct MinHeap<Element: Comparable>: Sendable where Element: Sendable {
    private(set) var elements: [Element] = []

    init() {}

    /// Builds a heap from `elements` in O(n).
    init(_ elements: [Element]) {
        self.elements = elements
        var i = elements.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    var count: Int { elements.count }
    var isEmpty: Bool { elements.isEmpty }
    var min: Element? { elements.first }

    mutating func insert(_ element: Element) {
        elements.append(element)
        siftUp(elements.count - 1)
    }

    @discardableResult
    mutating func popMin() -> Element? {
        guard !elements.isEmpty else { return nil }
        if elements.count == 1 { return elements.removeLast() }
        let top = elements[0]
        elements[0] = elements.removeLast()
        siftDown(0)
        return top
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard elements[child] < elements[parent] else { return }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        let n = elements.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { return }
            var smallest = left
            let right = left + 1
            if right < n && elements[right] < elements[left] { smallest = right }
            guard elements[smallest] < elements[parent] else { return }
            elements.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
