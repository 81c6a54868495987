// Graph recording and backpropagation. See autograd.h for the ownership rules.
#include "engine/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "engine/ops/elementwise.h"

namespace fer {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

bool needs_graph(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

void record(Tensor& output, const char* name, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!needs_graph(inputs)) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->edges.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge edge;
    edge.requires_grad = input.defined() && input.requires_grad();
    if (edge.requires_grad) {
      edge.producer = input.grad_fn();
      if (!edge.producer) edge.leaf = input;
      edge.shape = input.shape();
    }
    node->edges.push_back(std::move(edge));
  }
  node->backward = std::move(backward);
  output.set_grad_fn(std::move(node));
}

namespace {

// Nodes reachable from root, each after every node that consumes its output (iterative DFS,
// so deep graphs cannot overflow the stack). The shared_ptrs keep every node alive while
// backward releases the inputs of the nodes already done.
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> visited{root.get()};
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (next_input < node->edges.size()) {
      const std::shared_ptr<Node>& child = node->edges[next_input++].producer;
      if (!child) continue;
      if (visited.insert(child.get()).second) stack.push_back({child, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};  // consumers first
}

void accumulate_leaf_grad(Tensor leaf, const Tensor& grad) {
  Tensor& dst = leaf.mutable_grad();
  if (!dst.defined()) {
    dst = grad.clone();  // own the buffer: later += must not write into another tensor
  } else {
    add_(dst, grad);
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_output) {
  FER_CHECK(root.requires_grad()) << "backward on a tensor that does not require grad: " << root.str();
  FER_CHECK(grad_output.shape() == root.shape())
      << "backward: gradient of shape " << shape_str(grad_output.shape()) << " for a tensor of shape "
      << shape_str(root.shape());
  NoGradGuard no_grad;  // gradients are not differentiated again (no double backward)
  if (!root.grad_fn()) {
    accumulate_leaf_grad(root, grad_output);
    return;
  }
  std::unordered_map<Node*, Tensor> pending{{root.grad_fn().get(), grad_output}};
  for (const std::shared_ptr<Node>& node_ptr : topological_order(root.grad_fn())) {
    Node* node = node_ptr.get();
    auto it = pending.find(node);
    if (it == pending.end()) continue;  // no gradient flowed into this node
    const Tensor grad = std::move(it->second);
    pending.erase(it);
    FER_CHECK(node->backward) << "backward through " << node->name
                              << " a second time: the graph was freed by the first backward";
    std::vector<bool> needs;
    for (const Edge& edge : node->edges) needs.push_back(edge.requires_grad);
    std::vector<Tensor> grads = node->backward(grad, needs);
    FER_CHECK(grads.size() == node->edges.size())
        << node->name << ": backward returned " << grads.size() << " gradients for "
        << node->edges.size() << " inputs";
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!needs[i] || !grads[i].defined()) continue;
      const Edge& edge = node->edges[i];
      FER_CHECK(grads[i].shape() == edge.shape)
          << node->name << ": gradient of input " << i << " has shape " << shape_str(grads[i].shape())
          << ", the input has " << shape_str(edge.shape);
      if (Node* producer = edge.producer.get()) {
        auto [slot, inserted] = pending.try_emplace(producer, grads[i]);
        if (!inserted) slot->second = add(slot->second, grads[i]);
      } else {
        accumulate_leaf_grad(edge.leaf, grads[i]);
      }
    }
    // Release saved tensors now: memory stays flat over a training loop.
    node->backward = nullptr;
    node->edges.clear();
  }
}

}  // namespace fer
