// ql::Model: the public, torch-free facade over the Transformer.
#include "model/model.h"

#include "base/error.h"
#include "base/parallel.h"
#include "base/process_env.h"
#include "io/gguf_model.h"
#include "io/model_check.h"
#include "model/torch_errors.h"
#include "model/transformer.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <mutex>
#include <new>
#include <set>
#include <thread>

namespace ql {

namespace {

// Mistral's sliding_window is not part of ModelConfig (io); read it here. Qwen2
// configs also carry sliding_window but only apply it with use_sliding_window.
int readSlidingWindow(const std::string& configPath, const ModelConfig& config) {
    if (config.architecture != Architecture::Mistral) return 0;
    std::ifstream in(configPath);  // a GGUF (no Mistral architecture) never gets here
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return 0;
    const auto it = j.find("sliding_window");
    if (it == j.end() || !it->is_number_integer()) return 0;
    if (j.value("use_sliding_window", true) == false) return 0;
    return std::max(0, it->get<int>());
}

at::Tensor idsTensor(const std::vector<int32_t>& ids) {
    return at::from_blob(const_cast<int32_t*>(ids.data()), {1, int64_t(ids.size())}, at::kInt)
        .to(at::kLong);
}

}  // namespace

void setComputeThreads(int threads) {
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    const int n = std::min(threads > 0 ? threads : cores, kMaxThreads);
    at::set_num_threads(n);
    // The inter-op pool can be sized only before its first use; later calls throw.
    static std::once_flag interop;
    std::call_once(interop, [n] {
        try {
            at::set_num_interop_threads(n);
        } catch (const std::exception&) {
        }
    });
    setBlasThreads(n);
    setComputeThreadsForKernels(threads > 0 ? n : 0);
}

Model::Model() = default;
Model::~Model() = default;

std::shared_ptr<Model> Model::load(const std::string& folder) {
    try {
        return loadModel(folder, false, ProgressReporter({}));
    } catch (const c10::Error& e) {
        throwTorchError(e, "loading the model '" + folder + "'");
    } catch (const std::bad_alloc&) {
        throwOutOfMemory("loading the model '" + folder + "'");
    }
}

std::shared_ptr<Model> Model::loadStreamed(const std::string& folder) {
    return loadStreamed(folder, ProgressReporter({}));
}

std::shared_ptr<Model> Model::loadStreamed(const std::string& folder,
                                           const ProgressReporter& progress) {
    try {
        return loadModel(folder, true, progress);
    } catch (const c10::Error& e) {
        throwTorchError(e, "loading the model '" + folder + "'");
    } catch (const std::bad_alloc&) {
        throwOutOfMemory("loading the model '" + folder + "'");
    }
}

std::shared_ptr<Model> Model::loadModel(const std::string& folder, bool streamed,
                                        const ProgressReporter& progress) {
    // A folder's config.json, or the metadata of a GGUF file opened as the whole model.
    const std::string configPath = modelConfigSource(folder);
    const ModelConfig config = loadModelConfigOf(folder);
    const std::shared_ptr<TensorStore> store = TensorStore::open(folder);
    validateModel(config, *store, configPath);
    if (const UnusableWeights bad = scanUnusableWeights(*store, progress); bad.count > 0)
        throw Error("the model '" + folder + "' cannot be evaluated: " + describeUnusable(bad));

    std::shared_ptr<Model> model(new Model());
    model->net_ = streamed ? std::make_unique<Transformer>(config, store, Residency::Streamed)
                           : std::make_unique<Transformer>(config, *store);
    model->net_->setSlidingWindow(readSlidingWindow(configPath, config));

    ModelSummary& s = model->summary_;
    s.folder = folder;
    s.config = config;
    s.bytesOnDisk = store->bytesOnDisk();
    const bool bothEmbeddings =
        store->find("model.embed_tokens.weight") && store->find("lm_head.weight");
    for (const std::string& name : store->names()) {
        const TensorInfo& t = store->get(name);
        s.tensors.push_back(t);
        // A tied embedding stored under both names is one parameter set.
        if (config.tieWordEmbeddings && bothEmbeddings && name == "lm_head.weight") continue;
        s.parameters += t.numel();
    }
    s.bytesInMemory = uint64_t(s.parameters) * sizeof(float);
    for (const Linear& l : model->net_->linears()) s.linears.push_back(l.info);
    return model;
}

const ModelConfig& Model::config() const {
    return net_->config();
}
const ModelSummary& Model::summary() const {
    return summary_;
}
const std::vector<LinearLayerInfo>& Model::linears() const {
    return summary_.linears;
}

double Model::meanNll(const std::vector<int32_t>& ids) const {
    if (ids.size() < 2) throw Error("meanNll needs at least 2 tokens");
    at::NoGradGuard noGrad;
    const at::Tensor logits = net_->forward(idsTensor(ids))[0];  // [T, vocab]
    const int64_t T = logits.size(0);
    const at::Tensor logProbs = at::log_softmax(logits.narrow(0, 0, T - 1), -1);
    const at::Tensor targets = idsTensor(ids)[0].narrow(0, 1, T - 1).unsqueeze(1);
    const at::Tensor nll = -logProbs.gather(1, targets).squeeze(1);
    return nll.to(at::kDouble).mean().item<double>();
}

std::vector<float> Model::lastLogits(const std::vector<int32_t>& ids) const {
    if (ids.empty()) throw Error("lastLogits needs at least 1 token");
    at::NoGradGuard noGrad;
    const at::Tensor logits = net_->forward(idsTensor(ids))[0];
    const at::Tensor last = logits[logits.size(0) - 1].contiguous();
    return std::vector<float>(last.data_ptr<float>(), last.data_ptr<float>() + last.numel());
}

std::vector<float> Model::linearWeight(const std::string& name) const {
    const at::Tensor w = const_cast<Transformer&>(*net_).linear(name).weight.detach().contiguous();
    return std::vector<float>(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
}

void Model::setLinearWeight(const std::string& name, const std::vector<float>& rowMajor) {
    ql::setLinearWeight(*net_, name, rowMajor);
}

void Model::restoreWeights() {
    for (Linear& l : net_->linears()) {
        if (!l.original.defined()) continue;  // streamed and not loaded
        l.weight = l.original.detach();
        if (net_->requiresGrad()) l.weight.requires_grad_(true);
    }
}

Transformer& Model::transformer() {
    return *net_;
}
const Transformer& Model::transformer() const {
    return *net_;
}

}  // namespace ql
