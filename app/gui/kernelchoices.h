// The packed kernels' two choices, as the Generate form and the Speed and memory panel both
// offer them: how the packed layers take their activations, and the runs' output head.
#pragma once

#include "run/packed_install.h"

class QComboBox;

namespace ql {

// "float32 activations" / "int8 activations" ("float32" / "int8" with `bare`, for a form row
// that names them), with the tooltip that says what each computes.
QComboBox* newActivationsBox(bool bare = false);
// "f32 head" / "int8 head" / "int4 head" (without " head" when `bare`; data: the
// HeadFormat), with its tooltip.
QComboBox* newHeadBox(bool bare = false);

bool int8ActivationsChosen(const QComboBox* box);
HeadFormat headChosen(const QComboBox* box);

}  // namespace ql
