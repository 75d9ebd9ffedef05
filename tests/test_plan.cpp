// The mixed-precision knapsack (run/plan.h) against brute force on small hand-made and
// generated instances: the same optimal loss, never over budget; the rounded mode stays
// within budget; bad input gives one error.
#include "base/error.h"
#include "run/plan.h"
#include "run/plan_inputs.h"
#include "run/plan_llama.h"

#include <QObject>
#include <QTest>

#include <cmath>
#include <cstdint>
#include <limits>
#include <regex>

using namespace ql;

namespace {

// Least loss over every assignment within the budget (inf when none fits).
double bruteForce(const std::vector<PlanLayer>& layers, uint64_t budget) {
    const size_t m = layers.front().bytes.size();
    size_t total = 1;
    for (size_t k = 0; k < layers.size(); ++k) total *= m;
    double best = std::numeric_limits<double>::infinity();
    for (size_t code = 0; code < total; ++code) {
        size_t c = code;
        uint64_t bytes = 0;
        double loss = 0;
        for (const PlanLayer& l : layers) {
            bytes += l.bytes[c % m];
            loss += l.loss[c % m];
            c /= m;
        }
        if (bytes <= budget) best = std::min(best, loss);
    }
    return best;
}

void checkPlan(const std::vector<PlanLayer>& layers, const PlanResult& p, uint64_t budget) {
    QCOMPARE(p.choice.size(), layers.size());
    uint64_t bytes = 0;
    double loss = 0;
    for (size_t k = 0; k < layers.size(); ++k) {
        bytes += layers[k].bytes[size_t(p.choice[k])];
        loss += layers[k].loss[size_t(p.choice[k])];
    }
    QCOMPARE(p.bytes, bytes);
    QVERIFY(bytes <= budget);
    QVERIFY(std::fabs(loss - p.predictedLoss) <= 1e-12 * std::max(1.0, loss));
}

}  // namespace

class TestPlan : public QObject {
    Q_OBJECT
private slots:
    // Greedy by loss-per-byte picks wrongly here; the optimum takes layer b up, not a.
    void handMadeInstance() {
        const std::vector<PlanLayer> layers = {
            {"a", {4, 8, 16}, {10.0, 4.0, 0.0}, {}},
            {"b", {4, 8, 16}, {9.0, 1.0, 0.5}, {}},
            {"c", {2, 3, 6}, {3.0, 2.5, 0.0}, {}},
        };
        // Budget 20: a=4,b=8,c=6 -> 10+1+0 = 11, a=8,b=8,c=3 -> 4+1+2.5 = 7.5 (19 bytes),
        // a=8,b=8,c=2 -> 8 (18 bytes).
        const PlanResult p = planMixedPrecision(layers, 20);
        checkPlan(layers, p, 20);
        QCOMPARE(p.predictedLoss, 7.5);
        QCOMPARE(p.choice, (std::vector<int>{1, 1, 1}));
        QVERIFY(p.exact);
        QCOMPARE(p.predictedLoss, bruteForce(layers, 20));
        // Plenty of budget: everything at the best candidate.
        QCOMPARE(planMixedPrecision(layers, 1000).predictedLoss, 0.5);
        // Exactly the cheapest plan.
        QCOMPARE(planMixedPrecision(layers, 10).predictedLoss, 22.0);
    }

    void matchesBruteForce_data() {
        QTest::addColumn<int>("seed");
        for (int s = 1; s <= 40; ++s) QTest::newRow(qPrintable(QString::number(s))) << s;
    }
    void matchesBruteForce() {
        QFETCH(int, seed);
        uint64_t state = uint64_t(seed) * 6364136223846793005ull + 1442695040888963407ull;
        auto next = [&] {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            return uint32_t(state >> 33);
        };
        const size_t n = 2 + next() % 5, m = 2 + next() % 3;  // up to 6 layers x 4 candidates
        std::vector<PlanLayer> layers(n);
        uint64_t lo = 0, hi = 0;
        for (size_t k = 0; k < n; ++k) {
            layers[k].name = "l" + std::to_string(k);
            for (size_t j = 0; j < m; ++j) {
                layers[k].bytes.push_back(100 + next() % 900);
                layers[k].loss.push_back(double(next() % 10000) / 997.0);
            }
            lo += *std::min_element(layers[k].bytes.begin(), layers[k].bytes.end());
            hi += *std::max_element(layers[k].bytes.begin(), layers[k].bytes.end());
        }
        for (int t = 0; t <= 4; ++t) {
            const uint64_t budget = lo + (hi - lo) * uint64_t(t) / 4;
            const PlanResult p = planMixedPrecision(layers, budget);
            QVERIFY(p.exact);
            checkPlan(layers, p, budget);
            const double brute = bruteForce(layers, budget);
            QVERIFY2(std::fabs(p.predictedLoss - brute) <= 1e-9,
                     qPrintable(QString("seed %1 budget %2: %3 vs brute %4")
                                    .arg(seed)
                                    .arg(budget)
                                    .arg(p.predictedLoss)
                                    .arg(brute)));
            // A tiny table forces rounding: still within budget, never better than optimal.
            const PlanResult r = planMixedPrecision(layers, budget, 64);
            checkPlan(layers, r, budget);
            QVERIFY(r.predictedLoss >= brute - 1e-9);
        }
    }

    void badInputGivesOneError() {
        const std::vector<PlanLayer> layers = {{"a", {4, 8}, {1.0, 0.0}, {}}};
        QString error;
        try {
            planMixedPrecision(layers, 3);
        } catch (const Error& e) {
            error = e.what();
        }
        QVERIFY2(error.contains("3 bytes") && error.contains("smallest plan (4 bytes)"),
                 qPrintable(error));
        error.clear();
        try {
            planMixedPrecision({{"a", {4, 8}, {1.0}, {}}}, 100);
        } catch (const Error& e) {
            error = e.what();
        }
        QVERIFY2(error.contains("layer 'a'"), qPrintable(error));
    }

    // The plan for llama-quantize: one anchored --tensor-type per layer, each matching
    // exactly its own GGUF tensor among all of a 12-block model's names (llama-quantize
    // runs std::regex_search on every tensor), the type of the layer's chosen candidate;
    // the most chosen candidate's file type as the positional type; not possible (and why)
    // with a candidate that is not one llama.cpp type.
    void llamaQuantizeLines() {
        PlanInputs in;
        in.candidates = {"q4_k", "q8_0", "fp16"};
        const std::vector<std::string> layers = {
            "model.layers.1.mlp.down_proj", "model.layers.10.mlp.down_proj",
            "model.layers.1.self_attn.v_proj", "model.layers.11.self_attn.o_proj"};
        for (const std::string& name : layers)
            in.layers.push_back({name, {1, 2, 4}, {3, 2, 0}, {}});
        PlanResult p;
        p.choice = {1, 0, 0, 2};
        const LlamaQuantizePlan q = llamaQuantizePlan(in, p);
        QVERIFY2(q.possible, q.whyNot.c_str());
        QCOMPARE(q.baseType, std::string("Q4_K_M"));
        QCOMPARE(q.tensorTypes.size(), layers.size());
        std::vector<std::string> all;
        for (int b = 0; b < 12; ++b)
            for (const char* t : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
                                  "ffn_down", "attn_norm", "ffn_norm"})
                all.push_back("blk." + std::to_string(b) + "." + t + ".weight");
        const char* expected[] = {"blk.1.ffn_down.weight", "blk.10.ffn_down.weight",
                                  "blk.1.attn_v.weight", "blk.11.attn_output.weight"};
        const char* types[] = {"q8_0", "q4_k", "q4_k", "f16"};
        for (size_t k = 0; k < layers.size(); ++k) {
            const std::string& line = q.tensorTypes[k];
            const size_t eq = line.find('=');
            QVERIFY(eq != std::string::npos);
            QCOMPARE(line.substr(eq + 1), std::string(types[k]));
            const std::regex pattern(line.substr(0, eq));
            std::vector<std::string> hits;
            for (const std::string& name : all)
                if (std::regex_search(name, pattern)) hits.push_back(name);
            QCOMPARE(hits, std::vector<std::string>{expected[k]});
            QVERIFY(q.command.find("--tensor-type '" + line + "'") != std::string::npos);
        }
        QVERIFY(q.command.find(" Q4_K_M") != std::string::npos);

        in.candidates[1] = "rtn:int8:channel:sym";
        const LlamaQuantizePlan no = llamaQuantizePlan(in, p);
        QVERIFY(!no.possible);
        QVERIFY2(no.whyNot.find("rtn:int8:channel:sym") != std::string::npos, no.whyNot.c_str());
        QVERIFY(no.tensorTypes.empty() && no.command.empty());
        QCOMPARE(llamaQuantizeType("q6_k"), std::string("q6_k"));
        QCOMPARE(llamaQuantizeType("bf16"), std::string("bf16"));
        QCOMPARE(llamaQuantizeType("q4_k_m"), std::string());
    }

    // A plan as a run (run/plan_inputs.h): the most chosen candidate is the base recipe,
    // every other layer an override naming its candidate; a chosen fitted recipe is the base
    // (overrides are weight-only).
    void planRunBaseAndOverrides() {
        PlanInputs in;
        in.candidates = {"rtn:int4:g128:asym", "rtn:int8:channel:sym", "fp16"};
        for (const char* name : {"a", "b", "c", "d"})
            in.layers.push_back({name, {1, 2, 4}, {3, 2, 0}, {}});
        PlanResult p;
        p.choice = {1, 0, 1, 2};
        PlanRun run = planRun(in, p);
        QCOMPARE(run.recipe, std::string("rtn:int8:channel:sym"));
        QCOMPARE(run.overrides.size(), size_t(2));
        QCOMPARE(run.overrides[0].pattern, std::string("b"));
        QCOMPARE(run.overrides[0].recipe, std::string("rtn:int4:g128:asym"));
        QCOMPARE(run.overrides[1].pattern, std::string("d"));
        QCOMPARE(run.overrides[1].recipe, std::string("fp16"));
        QCOMPARE(in.uniformBytes(2), uint64_t(16));
        QCOMPARE(in.uniformLoss(0), 12.0);

        in.candidates[0] = "gptq:int4:g128:asym";  // chosen once, still the base
        run = planRun(in, p);
        QCOMPARE(run.recipe, std::string("gptq:int4:g128:asym"));
        QCOMPARE(run.overrides.size(), size_t(3));

        for (const std::vector<std::string>& bad :
             {std::vector<std::string>{"fp16"},
              std::vector<std::string>{"gptq:int4:g128:asym", "awq:int4:g128:asym"},
              std::vector<std::string>{"fp16", "rtn:int8:channel:sym+a8:token:sym"}}) {
            bool threw = false;
            try {
                checkPlanCandidates(bad);
            } catch (const Error&) {
                threw = true;
            }
            QVERIFY(threw);
        }
    }
};

QTEST_GUILESS_MAIN(TestPlan)
#include "test_plan.moc"
