// The tensor pool (core/model/tensor_pool): large tensors are reused, small ones are not
// pooled, the footprint bound evicts, trimming empties, and concurrent use keeps the books.
#include "model/tensor_pool.h"

#include <ATen/ATen.h>
#include <QTest>

#include <thread>
#include <vector>

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
    // fault), never from one larger than that.
    void requestTakesACachedBlockUpToHalfLarger() {
        ql::trimTensorPool();
        void* six = nullptr;
        {
            at::Tensor t = at::ones({int64_t(6) << 18}, at::kFloat);  // 6 MiB
            six = t.data_ptr();
        }
        {
            const ql::TensorPoolStats before = ql::tensorPoolStats();
            at::Tensor small = at::empty({int64_t(3) << 18}, at::kFloat);  // 3 MiB: 2x, a miss
            QVERIFY(small.data_ptr() != six);
            QCOMPARE(ql::tensorPoolStats().misses - before.misses, uint64_t(1));
        }
        const ql::TensorPoolStats before = ql::tensorPoolStats();
        at::Tensor five = at::empty({int64_t(5) << 18}, at::kFloat);  // 5 MiB: 1.2x, a hit
        QCOMPARE(five.data_ptr(), six);
        QCOMPARE(ql::tensorPoolStats().hits - before.hits, uint64_t(1));
        five.copy_(at::arange(int64_t(5) << 18, at::kFloat));
        QCOMPARE(five[(5 << 18) - 1].item<float>(), float((5 << 18) - 1));
    }

    void simultaneousTensorsDoNotAlias() {
        at::Tensor a = at::ones({1 << 20}, at::kFloat);
        at::Tensor b = at::zeros({1 << 20}, at::kFloat);
        QVERIFY(a.data_ptr() != b.data_ptr());
        QCOMPARE(a.sum().item<float>(), float(1 << 20));
        QCOMPARE(b.sum().item<float>(), 0.0f);
    }

    // Blocks of 8 MiB and more start at a 2 MiB boundary (so the kernel can back them with
    // huge pages) and are whole huge pages long; the tensor's data must still be all usable.
    void largeBlocksAreHugePageAligned() {
        if (qgetenv("QL_POOL_HUGEPAGES") == "0") QSKIP("QL_POOL_HUGEPAGES=0 in the environment");
        const uint64_t freshBefore = ql::tensorPoolStats().freshBytes;
        at::Tensor t = at::ones({int64_t(9) << 18}, at::kFloat);  // 9 MiB: a fresh class
        QCOMPARE(reinterpret_cast<uintptr_t>(t.data_ptr()) % (uintptr_t(2) << 20), uintptr_t(0));
        const uint64_t fresh = ql::tensorPoolStats().freshBytes - freshBefore;
        QCOMPARE(fresh % (uint64_t(2) << 20), uint64_t(0));
        QVERIFY(fresh >= uint64_t(9) << 20);
        QCOMPARE(t.sum().item<double>(), double(9 << 18));
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
