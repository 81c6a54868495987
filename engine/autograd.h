// Define-by-run reverse-mode autograd.
//
// Every differentiable op computes its output, then calls record(): if gradients are enabled and
// an input requires grad, a Node is attached to the output holding one Edge per input and a
// backward function written next to the op's forward. An Edge holds the input's producer Node
// (or, for a leaf that requires grad, the leaf itself), never an interior tensor's data: the only
// activations a graph keeps alive are those the backward functions captured, as in PyTorch's
// saved tensors. Whether an input needs a gradient is fixed when the op runs, so a module frozen
// for one forward (set_requires_grad(false)) gets no gradient from that graph even if it is
// unfrozen before backward. Ownership runs output -> Node -> producers only; a backward function
// that needs the op's own output captures out.detach() (shares the storage, not the Node), so the
// graph has no ownership cycles.
// backward(): iterative topological sort from the loss, then each Node's backward in reverse
// order. Interior gradients are summed out of place; leaf gradients accumulate with += into
// Tensor::grad(). Nodes release their saved tensors once used, so a second backward through the
// same graph is an error.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace fer {

// Returns one gradient per input (undefined where needs_grad[i] is false or no gradient flows).
using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad_output, const std::vector<bool>& needs_grad)>;

struct Node;

// Where the gradient of one input of an op goes, fixed when the op ran.
struct Edge {
  bool requires_grad = false;      // the input required grad then (undefined inputs: false)
  std::shared_ptr<Node> producer;  // the Node that made the input; null for a leaf
  Tensor leaf;                     // a leaf that requires grad: its gradient accumulates here
  Shape shape;                     // the input's shape, to check the gradient against
};

struct Node {
  std::string name;         // op name, used in error messages
  std::vector<Edge> edges;  // one per input of the op, in order
  BackwardFn backward;
};

// Whether ops record the graph (thread-local; on by default).
bool grad_enabled();

// Disables recording for its lifetime (evaluation, optimizer updates, running statistics).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when recording is on and at least one input requires grad.
bool needs_graph(const std::vector<Tensor>& inputs);

// Attaches a Node to `output` when needs_graph(inputs); otherwise does nothing.
void record(Tensor& output, const char* name, std::vector<Tensor> inputs, BackwardFn backward);

// Runs backpropagation from `root` with d(root) = grad_output.
void run_backward(const Tensor& root, const Tensor& grad_output);

}  // namespace fer
