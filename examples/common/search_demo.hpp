// The semantic_search example's built-in demo set: the passages and questions of
// tests/text/data/search_demo.txt (scripts/semantic_search_reference.py made that file and the
// reference top-3 of each question; tests/examples/test_search_demo.cpp checks both agree).
#pragma once

#include <string>
#include <vector>

namespace example {

inline const std::vector<std::string>& demo_passages() {
    static const std::vector<std::string> p = {
        "The Pacific Ocean is the largest and deepest of Earth's oceans, covering about a third of the planet's surface.",
        "Honeybees communicate the location of flowers to their hive mates by performing a waggle dance.",
        "The Great Wall of China was built over many centuries to protect northern borders from invasions.",
        "Photosynthesis lets green plants turn sunlight, water and carbon dioxide into sugar and oxygen.",
        "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level at 8,849 metres.",
        "The human heart has four chambers and pumps blood through the body about seventy times a minute.",
        "Johann Sebastian Bach was a German composer of the Baroque period known for his fugues and cantatas.",
        "Water boils at 100 degrees Celsius at sea level, but at a lower temperature high in the mountains.",
        "The first successful powered aeroplane flight was made by the Wright brothers in 1903.",
        "Penguins are flightless seabirds that live almost exclusively in the Southern Hemisphere.",
        "A leap year has 366 days, adding February 29 to keep the calendar in step with the seasons.",
        "Copper is an excellent conductor of electricity, which is why it is used in most household wiring.",
        "The Amazon rainforest produces a large share of the world's oxygen and is home to countless species.",
        "Chess is a board game for two players in which each side tries to checkmate the opposing king.",
        "Bread rises because yeast ferments sugars in the dough and releases bubbles of carbon dioxide.",
        "The Moon orbits Earth roughly every 27 days and always shows the same face to us.",
        "Vaccines train the immune system to recognise a germ without causing the disease itself.",
        "The Sahara is the largest hot desert in the world, stretching across much of North Africa.",
        "Lighthouses warn ships of dangerous coasts with a bright light that can be seen from far away.",
        "Python is a programming language that is popular for data analysis and quick scripting.",
    };
    return p;
}

inline const std::vector<std::string>& demo_questions() {
    static const std::vector<std::string> q = {
        "Which is the biggest ocean on Earth?",
        "How do bees tell each other where flowers are?",
        "What is the tallest mountain in the world?",
        "Who made the first aeroplane flight?",
        "Why does bread dough get bigger?",
        "Which metal is used for electrical wires in houses?",
        "How often does the Moon go around the Earth?",
        "How do vaccines protect people?",
    };
    return q;
}

}  // namespace example
