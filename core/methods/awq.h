#pragma once
// AWQ (core-private)
