#pragma once
// GPTQ (core-private)
