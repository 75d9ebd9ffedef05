// The tensor pool (core/model/tensor_pool): large tensors are reused, small ones are not
// pooled, the footprint bound evicts, trimming empties, and concurrent use keeps the books.
#include "model/tensor_pool.h"

#include "model/model.h"
#include "model/transformer.h"
#include "testdata.h"

#include <ATen/ATen.h>
#include <QTest>

#include <thread>
#include <vector>

#include <sys/resource.h>

namespace {
long minorFaults() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}
}  // namespace

class TestTensorPool : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        if (qEnvironmentVariableIsSet("QL_TENSOR_POOL") && qgetenv("QL_TENSOR_POOL") == "0")
            QSKIP("QL_TENSOR_POOL=0: the pool is switched off in this environment");
        QVERIFY(ql::installTensorPool());
        QVERIFY(ql::installTensorPool());  // idempotent
        QVERIFY(ql::tensorPoolStats().installed);
    }

    void largeTensorIsReused() {
        ql::trimTensorPool();
        const ql::TensorPoolStats before = ql::tensorPoolStats();
        void* first = nullptr;
        {
            at::Tensor t = at::empty({1 << 20}, at::kFloat);  // 4 MiB
            t.fill_(3.0f);
            first = t.data_ptr();
        }
        at::Tensor again = at::empty({1 << 20}, at::kFloat);
        const ql::TensorPoolStats after = ql::tensorPoolStats();
        QCOMPARE(again.data_ptr(), first);
        QCOMPARE(after.misses - before.misses, uint64_t(1));
        QCOMPARE(after.hits - before.hits, uint64_t(1));
        // A reused block is an ordinary tensor: it is written and read like a fresh one.
        again.copy_(at::arange(1 << 20, at::kFloat));
        QCOMPARE(again[12345].item<float>(), 12345.0f);
    }

    // A request may be served from a cached block up to 1.5x its size (resident pages, no
    // fault), never from one larger than that. Sizes in whole huge pages (blocks of 2 MiB
    // and more are rounded to them), so the ratios hold with and without huge pages.
    void requestTakesACachedBlockUpToHalfLarger() {
        // A live set of 16 MiB first, so that 10 + 4 MiB stay within the pool's footprint
        // bound (9/8 of the largest live set) and the 10 MiB block is not evicted.
        { at::Tensor warm = at::empty({int64_t(16) << 18}, at::kFloat); }
        ql::trimTensorPool();
        void* ten = nullptr;
        {
            at::Tensor t = at::ones({int64_t(10) << 18}, at::kFloat);  // 10 MiB
            ten = t.data_ptr();
        }
        {
            const ql::TensorPoolStats before = ql::tensorPoolStats();
            at::Tensor small = at::empty({int64_t(4) << 18}, at::kFloat);  // 4 MiB: 2.5x, a miss
            QVERIFY(small.data_ptr() != ten);
            QCOMPARE(ql::tensorPoolStats().misses - before.misses, uint64_t(1));
        }
        const ql::TensorPoolStats before = ql::tensorPoolStats();
        at::Tensor eight = at::empty({int64_t(8) << 18}, at::kFloat);  // 8 MiB: 1.25x, a hit
        QCOMPARE(eight.data_ptr(), ten);
        QCOMPARE(ql::tensorPoolStats().hits - before.hits, uint64_t(1));
        eight.copy_(at::arange(int64_t(8) << 18, at::kFloat));
        QCOMPARE(eight[(8 << 18) - 1].item<float>(), float((8 << 18) - 1));
    }

    void simultaneousTensorsDoNotAlias() {
        at::Tensor a = at::ones({1 << 20}, at::kFloat);
        at::Tensor b = at::zeros({1 << 20}, at::kFloat);
        QVERIFY(a.data_ptr() != b.data_ptr());
        QCOMPARE(a.sum().item<float>(), float(1 << 20));
        QCOMPARE(b.sum().item<float>(), 0.0f);
    }

    // Blocks of 2 MiB and more start at a 2 MiB boundary (so the kernel can back them with
    // huge pages) and are whole huge pages long; the tensor's data must still be all usable.
    void largeBlocksAreHugePageAligned_data() {
        QTest::addColumn<int64_t>("floats");
        QTest::newRow("2 MiB") << (int64_t(2) << 18);
        QTest::newRow("3.7 MiB (a 0.5B hidden state)") << int64_t(1024 * 896 + 7);
        QTest::newRow("9 MiB") << (int64_t(9) << 18);
    }
    void largeBlocksAreHugePageAligned() {
        if (qgetenv("QL_POOL_HUGEPAGES") == "0") QSKIP("QL_POOL_HUGEPAGES=0 in the environment");
        QFETCH(int64_t, floats);
        ql::trimTensorPool();  // a fresh block, not a cached one
        const uint64_t freshBefore = ql::tensorPoolStats().freshBytes;
        at::Tensor t = at::ones({floats}, at::kFloat);
        QCOMPARE(reinterpret_cast<uintptr_t>(t.data_ptr()) % (uintptr_t(2) << 20), uintptr_t(0));
        const uint64_t fresh = ql::tensorPoolStats().freshBytes - freshBefore;
        QCOMPARE(fresh % (uint64_t(2) << 20), uint64_t(0));
        QVERIFY(fresh >= uint64_t(floats) * 4);
        QVERIFY(fresh < uint64_t(floats) * 4 + (uint64_t(2) << 20));  // < one huge page more
        QCOMPARE(t.sum().item<double>(), double(floats));
    }

    void smallTensorsAreNotPooled() {
        const ql::TensorPoolStats before = ql::tensorPoolStats();
        for (int i = 0; i < 100; ++i) at::Tensor t = at::empty({1000}, at::kFloat);
        const ql::TensorPoolStats after = ql::tensorPoolStats();
        QCOMPARE(after.hits, before.hits);
        QCOMPARE(after.misses, before.misses);
    }

    void trimGivesEverythingBack() {
        { at::Tensor t = at::empty({1 << 21}, at::kFloat); }
        QVERIFY(ql::tensorPoolStats().cachedBytes >= uint64_t(8) << 20);
        ql::trimTensorPool();
        QCOMPARE(ql::tensorPoolStats().cachedBytes, uint64_t(0));
    }

    void footprintStaysWithinTheLargestLiveSet() {
        // Fill the cache with many 2 MiB blocks, then ask for one block larger than the
        // largest live set so far: the pool must unmap cached blocks rather than grow past
        // 9/8 of that live set.
        ql::trimTensorPool();
        {
            std::vector<at::Tensor> many;
            for (int i = 0; i < 16; ++i) many.push_back(at::empty({1 << 19}, at::kFloat));
        }
        const ql::TensorPoolStats cached = ql::tensorPoolStats();
        QVERIFY(cached.cachedBytes >= uint64_t(32) << 20);
        const uint64_t live = cached.liveBytes;
        {
            // live + cached + 256 MiB is far above 9/8 of any earlier live set of this test
            // process, unless an earlier live set was larger: then bound by that.
            at::Tensor big = at::empty({int64_t(64) << 20}, at::kFloat);
            const ql::TensorPoolStats s = ql::tensorPoolStats();
            QVERIFY(s.cachedBytes < cached.cachedBytes);
            QCOMPARE(s.liveBytes - live, uint64_t(256) << 20);
        }
        ql::trimTensorPool();
    }

    // The point of the pool (issue 7: system time under 5 % of user time): a decoder block
    // run again on the same input takes every large temporary from the cache and faults in
    // (next to) no fresh page. 8 x 256 tokens of stories260k: attention scores 16 MiB, MLP
    // activations 1.4 MiB (pooled), hidden states 0.5 MiB (the C heap).
    void repeatedBlockForwardMapsNothingNew() {
        QL_REQUIRE_DATA("models/stories260k");
        const auto model = ql::Model::load(qltest::dataPath("models/stories260k"));
        const ql::Transformer& net = model->transformer();
        at::NoGradGuard noGrad;
        ql::trimTensorPool();  // only this test's blocks: cached blocks of other sizes would
                               // serve some requests and be written further than before
        const at::Tensor ids = at::randint(0, 512, {8, 256}, at::kLong);
        const at::Tensor hidden = net.embed(ids);
        const at::Tensor first = net.block(0, hidden);
        // A second pass first: the pool's best fit settles on which cached block serves
        // which request during the first repeats (a process that ran nothing before misses
        // a few times there); from then on the passes are alike.
        (void)net.block(0, hidden);
        const ql::TensorPoolStats before = ql::tensorPoolStats();
        const long faultsBefore = minorFaults();
        const at::Tensor second = net.block(0, hidden);
        const long faults = minorFaults() - faultsBefore;
        const ql::TensorPoolStats after = ql::tensorPoolStats();
        QVERIFY(at::equal(first, second));
        QVERIFY(after.hits > before.hits);
        QCOMPARE(after.misses, before.misses);
        QCOMPARE(after.freshBytes, before.freshBytes);
        // A first pass faulted in ~5,000 pages, a third one without the pool's heap settings
        // ~3,000. Allowed: up to 2 MiB of C-heap growth (the heap's placement of the live
        // results; 256 faults when the huge-page test ran before, 0-30 alone).
#if defined(__SANITIZE_ADDRESS__)
        // ASan replaces malloc (the heap settings do not apply) and faults in its shadow
        // memory: the count says nothing there (6,417 in the sanitizer build).
        (void)faults;
        return;
#endif
        QVERIFY2(faults <= 512, qPrintable(QString("%1 minor faults").arg(faults)));
    }

    void concurrentUseKeepsTheBooks() {
        ql::trimTensorPool();
        const uint64_t live = ql::tensorPoolStats().liveBytes;
        auto work = [] {
            for (int i = 0; i < 200; ++i) {
                at::Tensor t = at::empty({(1 << 18) + (i % 7) * 4096}, at::kFloat);
                t.fill_(float(i));
                if (t[0].item<float>() != float(i)) std::abort();
            }
        };
        std::thread a(work), b(work);
        a.join();
        b.join();
        QCOMPARE(ql::tensorPoolStats().liveBytes, live);
        QVERIFY(ql::tensorPoolStats().hits > 0);
    }
};

QTEST_GUILESS_MAIN(TestTensorPool)
#include "test_tensor_pool.moc"
