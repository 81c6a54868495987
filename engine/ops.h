// Every differentiable op of the engine. Each op validates its arguments (naming the shapes),
// dispatches to kernels/ through FER_DISPATCH, and records its backward with record().
#pragma once
#include "engine/autograd.h"
#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/ops/loss.h"
#include "engine/ops/norm.h"
#include "engine/ops/pool.h"
#include "engine/ops/rdbp.h"
#include "engine/ops/shape.h"
